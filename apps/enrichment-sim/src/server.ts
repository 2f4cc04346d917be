// `npm start -w apps/enrichment-sim`: the simulator on PORT (default 3100).

import { createSimulator } from './simulator.ts';

const sim = createSimulator();
const url = await sim.listen({
  port: Number(process.env.PORT ?? 3100),
  host: process.env.HOST ?? '127.0.0.1',
});
process.stdout.write(`enrichment simulator at ${url} (PUT ${url}/_control to change latency and failures)\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => void sim.close().then(() => process.exit(0)));
