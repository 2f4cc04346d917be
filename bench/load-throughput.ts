// Highest rate the headroom generator sustains open-model against a bare Fastify route, beside autocannon's
// closed-loop maximum on the same server, same run. "Sustains": achieved ≥ 99% of the target, nothing
// dropped, under 1% late starts.
//
//   node bench/load-throughput.ts        (BENCH_WORKERS=2 to use two generator threads)

import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { runParallel } from '../packages/cli/src/engine/parallel.ts';
import { runScenario } from '../packages/cli/src/engine/run.ts';
import { loadScenario } from '../packages/cli/src/scenario/load-scenario.ts';
import { startNode } from './lib/process.ts';

const workers = Number(process.env.BENCH_WORKERS ?? 1);
const stepSeconds = Number(process.env.BENCH_SECONDS ?? 5);
const server = await startNode(join(import.meta.dirname, 'servers/bare-fastify.ts'), {
  ready: /listening on (http:\/\/\S+)/,
});
const url = server.match!;

try {
  let best = 0;
  console.log(`headroom load, open model, ${workers} thread(s), ${stepSeconds} s per step:`);
  console.log('| target /s | achieved /s | dropped | late starts | p99 ms |');
  console.log('| ---: | ---: | ---: | ---: | ---: |');
  const attempt = async (rate: number): Promise<boolean> => {
    const file = join(tmpdir(), `headroom-throughput-${rate}.yaml`);
    await writeFile(
      file,
      `name: t\nmaxInflight: 2000\nstages: [{ name: s, duration: ${stepSeconds}s, rate: ${rate}/s }]\nflows: [{ name: f, steps: [{ method: GET, path: /page }] }]\n`,
    );
    const scenario = await loadScenario(file, { target: url });
    const result =
      workers > 1
        ? await runParallel(scenario, file, { workers, routes: ['GET /page'], connections: 128 })
        : await runScenario(scenario, { routes: ['GET /page'], connections: 128 });
    const stage = result.stages[0]!;
    const cell = result.cells[0];
    const achieved = (cell?.count ?? 0) / stepSeconds;
    const ok = achieved >= rate * 0.99 && stage.dropped === 0 && stage.lateStarts < stage.iterations * 0.01;
    console.log(
      `| ${rate} | ${achieved.toFixed(0)} | ${stage.dropped} | ${stage.lateStarts} | ${cell?.percentileMs(99).toFixed(2) ?? '–'} |${ok ? '' : ' ✗'}`,
    );
    return ok;
  };
  // Coarse steps up, then halve the gap between the last rate held and the first one missed.
  let failed = 0;
  for (const rate of [10000, 20000, 30000, 40000, 50000, 60000, 70000, 80000]) {
    if (!(await attempt(rate))) {
      failed = rate;
      break;
    }
    best = rate;
  }
  for (let i = 0; failed && i < 3; i++) {
    const middle = Math.round((best + failed) / 2 / 500) * 500;
    if (await attempt(middle)) best = middle;
    else failed = middle;
  }

  const peer = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ url: `${url}/page`, connections: 64, duration: 10 }, (error, res) =>
      error ? reject(error) : resolve(res),
    );
  });
  console.log(
    `\nautocannon -c 64 -d 10 (closed loop, as fast as it can): ${peer.requests.average.toFixed(0)} req/s`,
  );
  console.log(
    `highest sustained open-model rate ÷ autocannon = ${best} ÷ ${peer.requests.average.toFixed(0)} = ${(best / peer.requests.average).toFixed(2)} (goal ≥ 1.0)`,
  );
} finally {
  await server.stop();
}
