// A server that answers at once, except for 1 s out of every 10 s, when it holds every answer until the
// stall ends: the classic coordinated-omission trap. Prints its URL.

import { createServer } from 'node:http';

const periodMs = Number(process.env.PERIOD_MS ?? 10_000);
const stallMs = Number(process.env.STALL_MS ?? 1_000);
const origin = performance.now();
const body = '{"ok":true}';

const server = createServer((_req, res) => {
  const phase = (performance.now() - origin) % periodMs;
  // The stall sits at the end of each period, so the first seconds of a run are calm.
  const wait = phase >= periodMs - stallMs ? periodMs - phase : 0;
  const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  if (wait > 0) setTimeout(answer, wait);
  else answer();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
