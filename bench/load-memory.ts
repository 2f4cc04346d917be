// Does the generator's memory stay flat over a long run? It keeps histograms, not samples, so it should.
// Runs 2,000 req/s against a bare Fastify route for BENCH_MINUTES (default 10) and compares heap and RSS in
// the first and the last minute.
//
//   node --expose-gc bench/load-memory.ts

import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario } from '../packages/cli/src/engine/run.ts';
import { loadScenario } from '../packages/cli/src/scenario/load-scenario.ts';
import { startNode } from './lib/process.ts';

const minutes = Number(process.env.BENCH_MINUTES ?? 10);
const rate = 2000;
const server = await startNode(join(import.meta.dirname, 'servers/bare-fastify.ts'), {
  ready: /listening on (http:\/\/\S+)/,
});
try {
  const file = join(tmpdir(), 'headroom-memory.yaml');
  await writeFile(
    file,
    `name: memory\nstages: [{ name: s, duration: ${minutes}m, rate: ${rate}/s }]\nflows: [{ name: f, steps: [{ method: GET, path: "/page?n=\${int(1, 1000000)}" }] }]\n`,
  );
  const samples: { t: number; heap: number; rss: number; external: number }[] = [];
  const result = await runScenario(await loadScenario(file, { target: server.match! }), {
    routes: ['GET /page'],
    onProgress: ({ elapsedMs }) => {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      samples.push({ t: elapsedMs / 1000, heap: m.heapUsed, rss: m.rss, external: m.external });
    },
  });
  const window = (from: number, to: number) => samples.filter((s) => s.t >= from && s.t < to);
  const mean = (list: typeof samples, key: 'heap' | 'rss' | 'external') =>
    list.reduce((a, s) => a + s[key], 0) / Math.max(1, list.length) / 2 ** 20;
  const first = window(60, 120);
  const last = window(minutes * 60 - 60, minutes * 60 + 5);
  const cell = result.cells[0]!;
  console.log(
    `${cell.count} requests in ${minutes} min at ${rate}/s; p99 ${cell.percentileMs(99).toFixed(2)} ms`,
  );
  console.log(
    `heap used: minute 2 ${mean(first, 'heap').toFixed(1)} MiB → last minute ${mean(last, 'heap').toFixed(1)} MiB (${((mean(last, 'heap') / mean(first, 'heap') - 1) * 100).toFixed(1)}%)`,
  );
  console.log('minute | heap MiB | rss MiB | external MiB');
  for (let m = 1; m <= minutes; m++) {
    const w = window((m - 1) * 60, m * 60);
    console.log(
      `${String(m).padStart(6)} | ${mean(w, 'heap').toFixed(1).padStart(8)} | ${mean(w, 'rss').toFixed(1).padStart(7)} | ${mean(w, 'external').toFixed(1).padStart(12)}`,
    );
  }
  console.log(
    `rss:       minute 2 ${mean(first, 'rss').toFixed(1)} MiB → last minute ${mean(last, 'rss').toFixed(1)} MiB (${((mean(last, 'rss') / mean(first, 'rss') - 1) * 100).toFixed(1)}%)`,
  );
} finally {
  await server.stop();
}
