// How fast and how cheaply the headroom generator loads a bare Fastify route, beside autocannon and wrk on the
// same server in the same run: the highest rate its open model sustains, a closed-model run with the same
// connections as the peers (like for like), and for each the generator's CPU per request.
//
// "Sustains": every arrival started on time (under 1% late starts), none dropped, and the answers came at
// ≥ 99% of the target rate over the window in which they came (a backlog that drains after the step's end
// stretches that window).
// - Each step first ramps up from half its rate over 2 s, as a load test's warm-up does; only the constant
//   stage after it is judged. A jump from nothing to near capacity leaves the server 1–3 s behind while it
//   and the kernel settle, and near capacity an open model has little spare to catch up with.
// - Up to 20,000 iterations may be in flight, as wrk2 queues without a cap: a 50 ms pause of the server at
//   40,000/s is 2,000 requests waiting, which shows in the p99 column rather than as drops.
// - Every tool gets the same number of connections; headroom opens its own before each run. wrk runs with
//   one thread (`-t1`), as the other two run on one event loop.
// - The server's capacity drifts over a run (±5% between two autocannon runs a minute apart), so the peers
//   and the closed model run before and after the open-model steps, on a server already warmed up; each
//   figure is the mean of both runs.
// - Pinning (Linux, 2 cores or more): the server runs on the last core (`taskset`), this process on the
//   others, and wrk, a child of this process, inherits its cores. The generator and the server then never
//   take each other's core, so a tool's figures do not depend on where the scheduler happened to put it, and
//   the server's share says whether its one core was the ceiling (98–100% busy: then no tool can go past it,
//   and the generator's CPU per request says which instrument costs the machine less).
// - CPU (Linux): user + system time. headroom and autocannon run in this process: `process.cpuUsage()`
//   (every thread of it). wrk is a child process: the kernel adds a child's user and system time to its
//   parent's `cutime`/`cstime` (/proc/self/stat) when the parent waits for it, so their growth over a wrk run
//   is exactly wrk's CPU, all its threads included, in clock ticks (10 ms over seconds of CPU). The server's
//   comes from its /proc/<pid>/stat. Shares are of one core over the run's wall time. On loopback the kernel
//   delivers a request to the server's socket inside the sender's write, so that work is every tool's system
//   time alike.
// - CPU per request depends on the rate as much as on the tool: below the server's ceiling each wake-up of the
//   generator finds fewer answers waiting, and the wake-ups cost (measured here: 21 µs a request at 10,000/s,
//   12.5 at 41,500/s, same code). So the open model at its highest sustained rate is compared with autocannon
//   flat out (the issue's figure), with autocannon paced to that same rate (`-R`), and the closed model with
//   autocannon and wrk at the same connections: the last two compare instruments like for like.
//
//   node bench/load-throughput.ts        (BENCH_SECONDS=10 for longer runs, 5 by default; BENCH_WORKERS=2 for
//                                          two generator threads, on a machine with 3 cores or more)
//   BENCH_CONNECTIONS=128 node bench/load-throughput.ts

import { writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { runParallel } from '../packages/cli/src/engine/parallel.ts';
import { runScenario } from '../packages/cli/src/engine/run.ts';
import { loadScenario } from '../packages/cli/src/scenario/load-scenario.ts';
import { wrk } from './lib/load.ts';
import { pinThisProcess, processCpuSeconds, reapedChildrenCpuSeconds, startNode } from './lib/process.ts';

const workers = Number(process.env.BENCH_WORKERS ?? 1);
const stepSeconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
/** Each step ramps up from half its rate over this long first; only the constant stage after it is judged. */
const rampSeconds = 2;
/** Between runs, so that one run's backlog and garbage do not land on the next. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));

const cores = availableParallelism();
const pinned = cores >= 2 && pinThisProcess(cores > 2 ? `0-${cores - 2}` : '0');
const server = await startNode(join(import.meta.dirname, 'servers/bare-fastify.ts'), {
  ready: /listening on (http:\/\/\S+)/,
  ...(pinned ? { cpus: String(cores - 1) } : {}),
});
const url = server.match!;
const serverPid = server.child.pid!;

/**
 * One tool's run: requests answered, the rate it reports (answers a second over its own measuring window),
 * the wall time of the whole run (connecting included), CPU seconds of the generator and of the server over it.
 */
interface Run {
  requests: number;
  rate: number;
  wallSeconds: number;
  generatorSeconds: number;
  serverSeconds: number;
}

/**
 * Runs `run` and measures it. `generatorCpu` reads the generator's CPU seconds so far (this process's, unless
 * the generator is a child).
 */
const measured = async <T>(
  run: () => Promise<T> | T,
  generatorCpu: () => number = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  },
) => {
  const [started, generatorBefore, serverBefore] = [
    performance.now(),
    generatorCpu(),
    processCpuSeconds(serverPid) ?? Number.NaN,
  ];
  const value = await run();
  const wallSeconds = (performance.now() - started) / 1000;
  const generatorSeconds = generatorCpu() - generatorBefore;
  const serverSeconds = (processCpuSeconds(serverPid) ?? Number.NaN) - serverBefore;
  return { value, wallSeconds, generatorSeconds, serverSeconds };
};
const share = (seconds: number, wallSeconds: number) =>
  Number.isNaN(seconds) ? '–' : `${((seconds / wallSeconds) * 100).toFixed(0)}%`;
/** The generator's CPU per request (user + system), in µs. */
const perRequest = (run: Run) => (run.generatorSeconds * 1e6) / run.requests;
const row = (label: string, run: Run) =>
  `| ${label} | ${run.rate.toFixed(0)} | ${perRequest(run).toFixed(1)} µs | ${share(run.generatorSeconds, run.wallSeconds)} | ${share(run.serverSeconds, run.wallSeconds)} |`;
/** Two runs of one tool as one: the mean of their rates, CPU per request and shares over both. */
const both = (a: Run, b: Run): Run => ({
  requests: a.requests + b.requests,
  rate: (a.rate + b.rate) / 2,
  wallSeconds: a.wallSeconds + b.wallSeconds,
  generatorSeconds: a.generatorSeconds + b.generatorSeconds,
  serverSeconds: a.serverSeconds + b.serverSeconds,
});

const scenarioFile = async (name: string, yaml: string) => {
  const file = join(tmpdir(), `headroom-throughput-${name}.yaml`);
  await writeFile(file, `name: t\n${yaml}flows: [{ name: f, steps: [{ method: GET, path: /page }] }]\n`);
  return { file, scenario: await loadScenario(file, { target: url }) };
};
const runHeadroom = async (name: string, yaml: string) => {
  const { file, scenario } = await scenarioFile(name, yaml);
  await settle();
  const options = { routes: ['GET /page'], connections, warmConnections: connections };
  return measured(() =>
    workers > 1 ? runParallel(scenario, file, { ...options, workers }) : runScenario(scenario, options),
  );
};

/** autocannon as fast as it goes, or paced to `overallRate` a second over all its connections. */
const runAutocannon = async (seconds = stepSeconds, overallRate?: number): Promise<Run> => {
  await settle();
  const options = {
    url: `${url}/page`,
    connections,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
  };
  const run = await measured(
    () =>
      new Promise<autocannon.Result>((resolve, reject) => {
        autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
      }),
  );
  return { ...run, requests: run.value.requests.total, rate: run.value.requests.total / run.value.duration };
};
const runWrk = async (): Promise<Run> => {
  await settle();
  // wrk's req/s is its answers over its own measured run time, which is the `-d` asked for.
  const run = await measured(
    () => wrk(`${url}/page`, { connections, seconds: stepSeconds }),
    () => reapedChildrenCpuSeconds() ?? Number.NaN,
  );
  return { ...run, requests: run.value.rps * stepSeconds, rate: run.value.rps };
};
const runClosed = async (): Promise<Run> => {
  const run = await runHeadroom(
    'closed',
    `model: closed\nstages: [{ name: s, duration: ${stepSeconds}s, vus: ${connections} }]\n`,
  );
  const requests = run.value.cells.reduce((sum, c) => sum + c.count, 0);
  return { ...run, requests, rate: requests / stepSeconds };
};

try {
  console.log(
    `${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores; ${pinned ? `pinned: server on core ${cores - 1}, generators on the other${cores > 2 ? 's' : ''}` : 'not pinned (needs Linux taskset and 2 cores)'}; ${connections} connections; ${stepSeconds} s a run`,
  );
  await runAutocannon(3); // the server's JIT warms up
  const peersBefore = { autocannon: await runAutocannon(), wrk: await runWrk(), closed: await runClosed() };

  let best = 0;
  let bestRun: Run | undefined;
  /** The most answers a second any step got, kept up or not: how hard the generator can drive the server. */
  let peak = 0;
  console.log(`\nheadroom load, open model, ${workers} thread(s):`);
  console.log(
    '| target /s | achieved /s | dropped | late starts | p99 ms | CPU generator / server | generator CPU a request |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const attempt = async (rate: number): Promise<boolean> => {
    const run = await runHeadroom(
      String(rate),
      `maxInflight: 20000\nstages: [{ name: up, duration: ${rampSeconds}s, rate: ${rate / 2}/s, to: ${rate}/s }, { name: s, duration: ${stepSeconds}s, rate: ${rate}/s }]\n`,
    );
    const result = run.value;
    const stage = result.stages[1]!;
    const cell = result.cells.find((c) => c.stage === 's');
    const requests = result.cells.reduce((sum, c) => sum + c.count, 0);
    // Answers per second over the window they came in: a backlog that drains after the step's end stretches
    // the window, so a server that only catches up later does not count as keeping up.
    const window = cell ? Math.max(stepSeconds, (cell.lastAt - cell.firstAt) / 1000) : stepSeconds;
    const achieved = (cell?.count ?? 0) / window;
    peak = Math.max(peak, achieved);
    const dropped = result.stages.reduce((sum, s) => sum + s.dropped, 0);
    const ok = achieved >= rate * 0.99 && dropped === 0 && stage.lateStarts < stage.iterations * 0.01;
    const measuredRun = { ...run, requests, rate: achieved };
    console.log(
      `| ${rate} | ${achieved.toFixed(0)} | ${dropped} | ${stage.lateStarts} | ${cell?.percentileMs(99).toFixed(2) ?? '–'} | ${share(run.generatorSeconds, run.wallSeconds)} / ${share(run.serverSeconds, run.wallSeconds)} | ${perRequest(measuredRun).toFixed(1)} µs |${ok ? '' : ' ✗'}`,
    );
    if (ok) bestRun = measuredRun;
    return ok;
  };
  // Coarse steps up, then halve the gap between the last rate held and the first one missed, down to 250/s.
  let failed = 0;
  for (const rate of [10000, 20000, 30000, 40000, 50000, 60000, 70000, 80000]) {
    if (!(await attempt(rate))) {
      failed = rate;
      break;
    }
    best = rate;
  }
  while (failed && failed - best > 250) {
    const middle = Math.round((best + failed) / 2 / 125) * 125;
    if (await attempt(middle)) best = middle;
    else failed = middle;
  }
  // The run at the highest rate held is the last one that held: the bisection only moves `best` up.

  const peersAfter = { autocannon: await runAutocannon(), wrk: await runWrk(), closed: await runClosed() };
  // The open model's CPU per request falls as its rate rises (more answers a wake-up): a peer at the same rate.
  const autocannonAtBest = best > 0 ? await runAutocannon(stepSeconds, best) : undefined;
  const autocannonRuns = both(peersBefore.autocannon, peersAfter.autocannon);
  const wrkRuns = both(peersBefore.wrk, peersAfter.wrk);
  const closedRuns = both(peersBefore.closed, peersAfter.closed);
  const autocannonRate = autocannonRuns.rate;

  console.log(
    `\nsame run, ${connections} connections each; a peer's row is its runs before and after the steps (the mean of their rates, CPU over both):`,
  );
  console.log('| generator | req/s | generator CPU a request | CPU generator | CPU server |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  if (bestRun) console.log(row(`headroom, open model at ${best}/s (highest sustained)`, bestRun));
  console.log(row('headroom, closed model (as fast as it can)', closedRuns));
  console.log(row('autocannon (closed loop)', autocannonRuns));
  console.log(row('wrk -t1 (closed loop)', wrkRuns));
  if (autocannonAtBest)
    console.log(row(`autocannon -R ${best} (paced to the open model's rate)`, autocannonAtBest));
  for (const [label, run] of [
    ['autocannon, before / after', [peersBefore.autocannon, peersAfter.autocannon]],
    ['wrk, before / after', [peersBefore.wrk, peersAfter.wrk]],
    ['headroom closed, before / after', [peersBefore.closed, peersAfter.closed]],
  ] as const)
    console.log(
      `  ${label}: ${run.map((r) => `${r.rate.toFixed(0)}/s at ${perRequest(r).toFixed(1)} µs`).join(' / ')}`,
    );

  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const open = bestRun ? perRequest(bestRun) : Number.NaN;
  const closed = perRequest(closedRuns);
  console.log(
    `\ngenerator CPU per request, headroom ÷ autocannon = ${ratio(open, perRequest(autocannonRuns))} (goal ≤ 1.0; open model at ${best}/s: ${open.toFixed(1)} ÷ ${perRequest(autocannonRuns).toFixed(1)} µs)`,
  );
  console.log(
    `generator CPU per request, headroom ÷ autocannon, like for like = ${ratio(closed, perRequest(autocannonRuns))} (goal ≤ 1.0; closed model, ${connections} connections each: ${closed.toFixed(1)} ÷ ${perRequest(autocannonRuns).toFixed(1)} µs)`,
  );
  if (autocannonAtBest)
    console.log(
      `generator CPU per request at the same rate, headroom open model ÷ autocannon -R ${best} = ${ratio(open, perRequest(autocannonAtBest))} (goal ≤ 1.0; ${open.toFixed(1)} ÷ ${perRequest(autocannonAtBest).toFixed(1)} µs)`,
    );
  console.log(
    `headroom ÷ wrk = ${ratio(open, perRequest(wrkRuns))} (open model; closed model: ${ratio(closed, perRequest(wrkRuns))}; wrk ${perRequest(wrkRuns).toFixed(1)} µs)`,
  );
  console.log(
    `sustained rate, headroom ÷ autocannon = ${ratio(best, autocannonRate)} (highest sustained open-model rate ${best}/s ÷ autocannon's ${autocannonRate.toFixed(0)}/s, the mean of its two runs)`,
  );
  console.log(
    `most answers a second in any step (offered more than the server takes) ÷ autocannon = ${peak.toFixed(0)} ÷ ${autocannonRate.toFixed(0)} = ${ratio(peak, autocannonRate)}`,
  );
  console.log(
    `closed-model rate, headroom ÷ autocannon = ${ratio(closedRuns.rate, autocannonRate)}; wrk ÷ autocannon = ${ratio(wrkRuns.rate, autocannonRate)}`,
  );
} finally {
  await server.stop();
}
