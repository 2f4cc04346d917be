#!/usr/bin/env node
// The `headroom` command.

import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadSpec, parseRatio, type Spec } from '@headroom/core/slo';
import { type RunArtifact, toArtifact } from './artifact.ts';
import { compareRuns, mergeShards } from './compare/compare.ts';
import { runParallel } from './engine/parallel.ts';
import { runScenario } from './engine/run.ts';
import { breachDetector, judge, judgeFigures } from './gate/judge.ts';
import { stageTable } from './gate/stage-table.ts';
import { verdictTable } from './gate/table.ts';
import { importAutocannon } from './import/autocannon.ts';
import { importK6 } from './import/k6.ts';
import { htmlReport } from './report/html.ts';
import { junitReport } from './report/junit.ts';
import { markdownReport } from './report/markdown.ts';
import { loadScenario } from './scenario/load-scenario.ts';

const help = `headroom — load, judge and compare HTTP APIs against their budgets

Usage:
  headroom load <scenario.yaml> [options]   run a scenario, print per-route figures, judge them
  headroom compare --baseline A.json... --candidate B.json... [--threshold 10%]
                                            repeated runs as the unit: bootstrap CI of p95/p99 ratios
                                            and Mann-Whitney on per-run medians; exit 1 on a regression
  headroom merge <shard.json>... --out FILE merge artifacts of shards of one run, exactly
  headroom report <run.json> [--markdown F] [--junit F] [--html F]
                                            render a saved run
  headroom check <summary.json> --from k6|autocannon --spec FILE [--route "GET /path"]
                                            judge another tool's summary with the same gate

Options for load:
  --target URL        the server to load (overrides the scenario's target)
  --spec FILE         headroom.yaml to name routes by and judge against (overrides the scenario's spec)
  --out FILE          save the run artifact (JSON: merged HDR histograms per stage and route)
  --connections N     sockets to the target (default 256)
  --warm-connections N
                      sockets opened before the first arrival, as a load balancer keeps them (default 0)
  --workers N         generator threads, for more than one core (default 1)
  --abort-on-breach   stop early once a budget is sure to be breached (errors over budget, p95 over 2×)
  --markdown FILE     a Markdown summary for a PR comment
  --junit FILE        JUnit XML: a test case per budget check
  --html FILE         one self-contained HTML file with charts
  -h, --help          this text

Options for compare:
  --baseline FILE     a baseline run artifact (repeat the option, ≥ 3 runs for a verdict)
  --candidate FILE    a candidate run artifact (repeat the option)
  --threshold RATIO   smaller changes are "no change" (default 10%)

Exit codes: 0 gate passed (or nothing to judge), 1 a budget was breached, 2 bad usage or input.

Examples:
  headroom load scenarios/golden-path.yaml --target http://127.0.0.1:3000 --spec apps/casebook/headroom.yaml
  headroom load scenarios/peak.yaml --out runs/peak-1.json
  headroom compare --baseline runs/main-{1,2,3}.json --candidate runs/pr-{1,2,3}.json
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      target: { type: 'string' },
      spec: { type: 'string' },
      out: { type: 'string' },
      connections: { type: 'string' },
      workers: { type: 'string' },
      'warm-connections': { type: 'string' },
      'abort-on-breach': { type: 'boolean', default: false },
      baseline: { type: 'string', multiple: true },
      candidate: { type: 'string', multiple: true },
      threshold: { type: 'string' },
      markdown: { type: 'string' },
      junit: { type: 'string' },
      html: { type: 'string' },
      from: { type: 'string' },
      route: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, file] = positionals;
  if (values.help || !command) {
    process.stdout.write(help);
    return command || values.help ? 0 : 2;
  }
  if (command === 'compare')
    return compareCommand(values.baseline ?? [], values.candidate ?? [], values.threshold);
  if (command === 'merge') return mergeCommand(positionals.slice(1), values.out);
  if (command === 'check' && file) return checkCommand(file, values);
  if (command === 'report' && file) {
    const [artifact] = await readArtifacts([file]);
    await writeReports(artifact!, values);
    return 0;
  }
  if (command !== 'load' || !file) {
    process.stderr.write(`unknown command or missing scenario: ${positionals.join(' ')}\n\n${help}`);
    return 2;
  }

  const scenario = await loadScenario(file, values.target ? { target: values.target } : {});
  const specPath = values.spec ?? scenario.spec;
  const spec: Spec | undefined = specPath ? await loadSpec(specPath) : undefined;
  const tty = process.stdout.isTTY && !process.env.CI;
  const routes = spec?.objectives.map((o) => `${o.method} ${o.route}`);
  const connections = values.connections ? Number(values.connections) : undefined;
  const workers = values.workers ? Number(values.workers) : 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers must be a whole number ≥ 1');
  const warmConnections = Number(values['warm-connections'] ?? 0);
  if (!Number.isInteger(warmConnections) || warmConnections < 0)
    throw new Error('--warm-connections must be a whole number ≥ 0');
  if (workers > 1) process.stdout.write(`running on ${workers} generator threads\n`);
  const result =
    workers > 1
      ? await runParallel(scenario, file, { workers, routes, connections, warmConnections })
      : await runScenario(scenario, {
          routes,
          connections,
          warmConnections,
          ...(values['abort-on-breach'] && spec ? { abortWhen: breachDetector(spec) } : {}),
          onProgress: ({ elapsedMs, stage, requests, errors, recent }) => {
            const line = `${(elapsedMs / 1000).toFixed(0).padStart(4)} s  ${stage.padEnd(12)} ${String(recent.count).padStart(6)} req/s  p95 ${recent.count ? recent.percentileMs(95).toFixed(1) : '-'} ms  requests ${requests}  errors ${errors}`;
            if (tty) process.stdout.write(`\r${line}\u001b[K`);
            else if (Math.round(elapsedMs / 1000) % 5 === 0) process.stdout.write(`${line}\n`);
          },
        });
  if (tty) process.stdout.write('\n');
  if (result.setupErrors.length > 0) {
    process.stderr.write(`setup failed, nothing was run:\n  ${result.setupErrors.join('\n  ')}\n`);
    return 1;
  }

  process.stdout.write(`\n${scenario.name} against ${scenario.target} (${scenario.model} model)\n\n`);
  if (result.aborted) process.stdout.write(`aborted early: ${result.aborted}\n\n`);
  process.stdout.write(
    '| stage | target /s | achieved /s | iterations | dropped | late starts |\n| --- | ---: | ---: | ---: | ---: | ---: |\n',
  );
  for (const s of result.stages) {
    process.stdout.write(
      `| ${s.name}${s.judge ? '' : ' (not judged)'} | ${s.targetRate?.toFixed(1) ?? '-'} | ${s.achievedRate.toFixed(1)} | ${s.iterations} | ${s.dropped} | ${s.lateStarts} |\n`,
    );
  }
  const loop = result.eventLoopDelayMs;
  process.stdout.write(
    `\ngenerator event-loop delay: p50 ${loop.p50.toFixed(1)} ms, p99 ${loop.p99.toFixed(1)} ms, max ${loop.max.toFixed(1)} ms${loop.p99 > 20 ? '  ⚠ saturated: figures include generator delay' : ''}\n\n`,
  );

  process.stdout.write(`${stageTable(result)}\n\n`);
  const gate = judge(result, spec);
  process.stdout.write(`${verdictTable(gate)}\n`);
  const artifact = toArtifact(scenario, result, spec ? gate : undefined);
  if (values.out) await writeFile(values.out, `${JSON.stringify(artifact)}\n`);
  await writeReports(artifact, values);
  return gate.verdict === 'fail' || result.aborted ? 1 : 0;
}

async function writeReports(
  artifact: RunArtifact,
  files: { markdown?: string; junit?: string; html?: string },
) {
  if (files.markdown) await writeFile(files.markdown, markdownReport(artifact));
  if (files.junit && artifact.gate)
    await writeFile(files.junit, junitReport(artifact.gate, artifact.scenario.name));
  if (files.html) await writeFile(files.html, htmlReport(artifact));
}

async function checkCommand(
  file: string,
  options: { from?: string; spec?: string; route?: string; junit?: string },
): Promise<number> {
  if (!options.spec || (options.from !== 'k6' && options.from !== 'autocannon')) {
    process.stderr.write('check needs --from k6|autocannon and --spec\n');
    return 2;
  }
  const summary: unknown = JSON.parse(await readFile(file, 'utf8'));
  const imported = options.from === 'k6' ? importK6(summary) : importAutocannon(summary, options.route);
  const gate = judgeFigures(imported.routes, await loadSpec(options.spec), 0);
  process.stdout.write(`${verdictTable(gate)}\n`);
  if (options.junit) await writeFile(options.junit, junitReport(gate, file));
  return gate.verdict === 'fail' ? 1 : 0;
}

async function readArtifacts(files: string[]): Promise<RunArtifact[]> {
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as RunArtifact));
}

async function compareCommand(baseline: string[], candidate: string[], threshold?: string): Promise<number> {
  if (baseline.length === 0 || candidate.length === 0) {
    process.stderr.write('compare needs --baseline and --candidate artifacts\n');
    return 2;
  }
  const rows = compareRuns(await readArtifacts(baseline), await readArtifacts(candidate), {
    threshold: threshold ? parseRatio(threshold).value : 0.1,
  });
  process.stdout.write(
    '| route | runs (base/cand) | p95 base → cand ms, ratio [95% CI] | p99 base → cand ms, ratio [95% CI] | median shift p | verdict |\n| --- | --- | --- | --- | ---: | --- |\n',
  );
  for (const row of rows) {
    const cells = row.metrics.map(
      (m) =>
        `${m.baseline.toFixed(2)} → ${m.candidate.toFixed(2)}, ×${m.ratio.estimate.toFixed(3)} [${m.ratio.low.toFixed(3)}, ${m.ratio.high.toFixed(3)}]`,
    );
    process.stdout.write(
      `| \`${row.route}\` | ${row.runs.baseline}/${row.runs.candidate} | ${cells[0] ?? '–'} | ${cells[1] ?? '–'} | ${row.metrics.length ? row.medianShiftP.toFixed(3) : '–'} | ${row.verdict}${row.note ? ` (${row.note})` : ''} |\n`,
    );
  }
  return rows.some((r) => r.verdict === 'regression') ? 1 : 0;
}

async function mergeCommand(files: string[], out?: string): Promise<number> {
  if (files.length === 0 || !out) {
    process.stderr.write('merge needs shard artifacts and --out\n');
    return 2;
  }
  await writeFile(out, `${JSON.stringify(mergeShards(await readArtifacts(files)))}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`headroom: ${error.message}\n`);
    process.exitCode = 2;
  },
);
