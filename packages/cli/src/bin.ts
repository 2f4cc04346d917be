#!/usr/bin/env node
// The `headroom` command.

import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isHeadroomError } from '@headroom/core/errors';
import { loadSpec, parseDuration, parseRatio, type Spec } from '@headroom/core/slo';
import { type RunArtifact, toArtifact } from './artifact.ts';
import { findCapacity, instancesFor } from './capacity.ts';
import { compareRuns, mergeShards } from './compare/compare.ts';
import { dbCommand, dbSummaries } from './db/command.ts';
import { runParallel } from './engine/parallel.ts';
import { runScenario } from './engine/run.ts';
import { drillTable } from './gate/drill.ts';
import { breachDetector, judge, judgeFigures, phaseNames } from './gate/judge.ts';
import { judgeSoak } from './gate/soak.ts';
import { judgeSpike } from './gate/spike.ts';
import { stageTable } from './gate/stage-table.ts';
import { verdictTable } from './gate/table.ts';
import { writeGenerated } from './gen/gen.ts';
import { importAutocannon } from './import/autocannon.ts';
import { importK6 } from './import/k6.ts';
import { findRelease } from './release.ts';
import { htmlReport } from './report/html.ts';
import { junitReport, junitRunReport } from './report/junit.ts';
import { markdownReport } from './report/markdown.ts';
import { exitCode } from './report/verdict.ts';
import { loadScenario } from './scenario/load-scenario.ts';
import { judgeFromPrometheus, sloTable } from './slo/slo.ts';

interface CommandHelp {
  usage: string;
  summary: string;
  options: [flag: string, text: string][];
  examples: string[];
}

// Every command's help: `headroom <command> --help` prints its own, `headroom --help` lists them all.
const commands: Record<string, CommandHelp> = {
  load: {
    usage: 'headroom load <scenario.yaml> [options]',
    summary: 'run a scenario, print per-route figures, judge them against the spec',
    options: [
      ['--target URL', "the server to load (overrides the scenario's target)"],
      ['--spec FILE', "headroom.yaml to name routes by and judge against (overrides the scenario's spec)"],
      ['--out FILE', 'save the run artifact (JSON: merged HDR histograms per stage and route)'],
      ['--connections N', 'sockets to the target (default 256)'],
      [
        '--warm-connections N',
        'sockets opened before the first arrival, as a load balancer keeps them (default 0)',
      ],
      ['--workers N', 'generator threads, for more than one core (default 1)'],
      ['--check-failures RATIO', "share of requests whose checks may fail (default: the scenario's, else 0)"],
      [
        '--abort-on-breach',
        'stop early once a budget is sure to be breached (errors over budget, p95 over 2×)',
      ],
      ['--markdown FILE', 'a Markdown summary for a PR comment'],
      ['--junit FILE', 'JUnit XML: a test case per budget check'],
      ['--html FILE', 'one self-contained HTML file with charts'],
      [
        '--release-version V, --release-commit C',
        "the build under test, kept in the artifact (default: read from the target's headroom_build_info on /metrics)",
      ],
      [
        '--metrics-token TOKEN',
        "a bearer token for the target's /metrics, when it is protected (its release; a soak's memory readings)",
      ],
    ],
    examples: [
      'headroom load scenarios/golden-path.yaml --target http://127.0.0.1:3000 --spec headroom.yaml',
      'headroom load scenarios/peak.yaml --out runs/peak-1.json --junit junit.xml',
    ],
  },
  check: {
    usage: 'headroom check <summary.json> --from k6|autocannon --spec FILE [options]',
    summary: "judge another tool's summary with the same gate",
    options: [
      ['--from k6|autocannon', 'the tool that wrote the summary'],
      ['--spec FILE', 'headroom.yaml with the objectives to judge against'],
      ['--route "GET /path"', 'the route an autocannon run loaded (default: GET and its URL path)'],
      ['--check-failures RATIO', 'share of requests whose checks may fail (default 0)'],
      ['--junit FILE', 'JUnit XML: a test case per budget check'],
    ],
    examples: [
      'headroom check summary.json --from k6 --spec headroom.yaml',
      'headroom check ac.json --from autocannon --spec headroom.yaml --route "GET /v1/cases/search"',
    ],
  },
  capacity: {
    usage: 'headroom capacity <scenario.yaml> --spec FILE [--min R] [--max R] [--probe 10s] [--peak R]',
    summary: 'find the highest rate that holds the SLO (bisection), and the instances a peak needs',
    options: [
      ['--target URL', "the server to probe (overrides the scenario's target)"],
      [
        '--spec FILE',
        "headroom.yaml: the objectives each probe is judged against (overrides the scenario's)",
      ],
      ['--min RATE', 'the lowest rate worth trying, per second (default 10)'],
      ['--max RATE', 'the highest rate to try, probed first (default 1000)'],
      ['--probe DURATION', 'how long each probe runs (default 10s; a p99 needs 1,000 samples to be judged)'],
      ['--probes N', 'probes at most (default 8)'],
      ['--pause DURATION', 'between probes, for quotas and queues to drain (default 2s)'],
      ['--peak RATE', 'a peak to plan for: prints ⌈peak ÷ capacity × headroom⌉ instances'],
      ['--headroom FACTOR', 'spare capacity for the plan (default 1.5)'],
      ['--connections N', 'sockets to the target (default 256)'],
    ],
    examples: [
      'headroom capacity scenarios/golden-path.yaml --target http://127.0.0.1:3000 --spec headroom.yaml --max 2000 --peak 10000',
      'headroom capacity load.yaml --spec headroom.yaml --min 50 --max 400 --probe 5s --probes 6',
    ],
  },
  compare: {
    usage: 'headroom compare --baseline A.json... --candidate B.json... [--threshold 10%]',
    summary: 'repeated runs as the unit: bootstrap CI of p95/p99 ratios, Mann-Whitney on per-run medians',
    options: [
      ['--baseline FILE', 'a baseline run artifact (repeat the option; 3 or more runs for a verdict)'],
      ['--candidate FILE', 'a candidate run artifact (repeat the option)'],
      ['--threshold RATIO', 'smaller changes are "no change" (default 10%)'],
    ],
    examples: [
      'headroom compare --baseline runs/main-1.json --baseline runs/main-2.json --baseline runs/main-3.json \\\n    --candidate runs/pr-1.json --candidate runs/pr-2.json --candidate runs/pr-3.json',
    ],
  },
  merge: {
    usage: 'headroom merge <shard.json>... --out FILE',
    summary: 'merge the artifacts of shards of one run, exactly',
    options: [['--out FILE', 'where to write the merged artifact']],
    examples: ['headroom merge shard-1.json shard-2.json --out run.json'],
  },
  gen: {
    usage: 'headroom gen <headroom.yaml> --out DIR [--runbook-base URL]',
    summary:
      'write Prometheus recording rules, burn-rate and operational alerts, promtool tests and runbooks from the spec',
    options: [
      ['--out DIR', 'where to write rules/, tests/ and runbooks/ (replaced on every run)'],
      ['--runbook-base URL', "the prefix of each alert's runbook_url (default runbooks/)"],
    ],
    examples: [
      'headroom gen headroom.yaml --out generated',
      'headroom gen headroom.yaml --out ops --runbook-base https://wiki.example.com/runbooks/',
      'promtool check rules generated/rules/*.yml && promtool test rules generated/tests/*.yml',
    ],
  },
  slo: {
    usage: 'headroom slo <headroom.yaml> --prometheus URL [--window 5m] [--selector MATCHERS]',
    summary:
      "judge each objective on what Prometheus saw of the running service (exit 1 on a breach, 2 if it can't be read)",
    options: [
      ['--prometheus URL', "Prometheus' base URL"],
      ['--window DURATION', 'how much of the recent past to judge (default 5m)'],
      ['--selector MATCHERS', 'label matchers for the service\'s series, e.g. job="casebook"'],
    ],
    examples: [
      'headroom slo apps/casebook/headroom.yaml --prometheus http://127.0.0.1:9090 --window 1h --selector \'job="casebook"\'',
    ],
  },
  report: {
    usage: 'headroom report <run.json> [--markdown FILE] [--baseline base.json] [--junit FILE] [--html FILE]',
    summary: 'render a saved run',
    options: [
      ['--markdown FILE', 'a Markdown summary'],
      ['--baseline FILE', "a run to compare against: the Markdown's checks gain a `vs base` column"],
      ['--junit FILE', 'JUnit XML (a run saved with a spec)'],
      ['--html FILE', 'one self-contained HTML file with charts'],
    ],
    examples: [
      'headroom report runs/peak-1.json --html report.html',
      'headroom report runs/pr.json --markdown pr.md --baseline runs/main.json',
    ],
  },
};

const exitCodes =
  'Exit codes: 0 gate passed (or nothing to judge), 1 a budget was breached, 2 bad usage or input.';

function commandHelp(name: string): string {
  const c = commands[name]!;
  const width = Math.max(...c.options.map(([flag]) => flag.length)) + 2;
  const options = [...c.options, ['-h, --help', 'this text'] as [string, string]]
    .map(([flag, text]) => `  ${flag.padEnd(width)}${text}`)
    .join('\n');
  return `${c.usage}\n\n${c.summary}\n\nOptions:\n${options}\n\n${exitCodes}\n\nExamples:\n${c.examples.map((e) => `  ${e}`).join('\n')}\n`;
}

const help = `headroom — load, judge and compare HTTP APIs against their budgets

Usage:
${[...Object.entries(commands).map(([name, c]) => [name, c.summary]), ...dbSummaries]
  .map(([name, summary]) => `  headroom ${name!.padEnd(10)} ${summary}`)
  .join('\n')}

Run \`headroom <command> --help\` for a command's options and examples.

${exitCodes}
`;

/** A bad flag value: exit 2, naming the flag. */
class UsageError extends Error {}

function wholeNumber(flag: string, text: string | undefined, min: number, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new UsageError(`${flag} must be a whole number ≥ ${min}, got ${JSON.stringify(text)}`);
  return value;
}

function ratioFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseRatio(text).value;
  } catch {
    throw new UsageError(`${flag} must be a ratio such as 1% or 0.01, got ${JSON.stringify(text)}`);
  }
}

async function main(argv: string[]): Promise<number> {
  // `headroom db ...` parses its own flags (db/command.ts).
  if (argv[0] === 'db') return dbCommand(argv.slice(1));
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
      'check-failures': { type: 'string' },
      'abort-on-breach': { type: 'boolean', default: false },
      baseline: { type: 'string', multiple: true },
      candidate: { type: 'string', multiple: true },
      threshold: { type: 'string' },
      markdown: { type: 'string' },
      junit: { type: 'string' },
      html: { type: 'string' },
      from: { type: 'string' },
      route: { type: 'string' },
      'runbook-base': { type: 'string' },
      prometheus: { type: 'string' },
      window: { type: 'string' },
      selector: { type: 'string' },
      'release-version': { type: 'string' },
      'release-commit': { type: 'string' },
      'metrics-token': { type: 'string' },
      min: { type: 'string' },
      max: { type: 'string' },
      probe: { type: 'string' },
      probes: { type: 'string' },
      pause: { type: 'string' },
      peak: { type: 'string' },
      headroom: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, file] = positionals;
  if (command === 'help') {
    process.stdout.write(positionals[1] && commands[positionals[1]] ? commandHelp(positionals[1]) : help);
    return 0;
  }
  if (!command) {
    process.stdout.write(help);
    return values.help ? 0 : 2;
  }
  if (!commands[command]) {
    process.stderr.write(`headroom: unknown command "${command}"\n\n${help}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  if (command === 'compare')
    return compareCommand(values.baseline ?? [], values.candidate ?? [], values.threshold);
  if (command === 'merge') return mergeCommand(positionals.slice(1), values.out);
  if (!file) {
    process.stderr.write(`headroom ${command}: missing the file to read\n\n${commandHelp(command)}`);
    return 2;
  }
  if (command === 'check') return checkCommand(file, values);
  if (command === 'capacity') return capacityCommand(file, values);
  if (command === 'slo') {
    if (!values.prometheus) throw new UsageError('headroom slo needs --prometheus URL');
    let windowMs: number;
    try {
      windowMs = parseDuration(values.window ?? '5m');
    } catch {
      throw new UsageError(
        `--window must be a duration such as 5m or 1h, got ${JSON.stringify(values.window)}`,
      );
    }
    const spec = await loadSpec(file);
    let report: Awaited<ReturnType<typeof judgeFromPrometheus>>;
    try {
      report = await judgeFromPrometheus(spec, {
        url: values.prometheus,
        windowMs,
        ...(values.selector ? { selector: values.selector } : {}),
      });
    } catch (error) {
      process.stderr.write(`headroom slo: Prometheus could not be read: ${(error as Error).message}\n`);
      return 2;
    }
    process.stdout.write(sloTable(report));
    return report.verdict === 'fail' ? 1 : 0;
  }
  if (command === 'gen') {
    if (!values.out) throw new UsageError('headroom gen needs --out DIR');
    const written = await writeGenerated(await loadSpec(file), values.out, {
      ...(values['runbook-base'] ? { runbookBase: values['runbook-base'] } : {}),
    });
    process.stdout.write(`headroom gen: ${written.length} files in ${values.out}\n`);
    return 0;
  }
  if (command === 'report') {
    if ((values.baseline?.length ?? 0) > 1) throw new UsageError('headroom report takes one --baseline');
    const [artifact, baseline] = await readArtifacts([file, ...(values.baseline ?? [])]);
    await writeReports(artifact!, values, baseline);
    // The same exit code as the run it renders: a saved breach stays a breach (the help says 1).
    return exitCode(artifact!.gate, artifact!.drills);
  }

  const scenario = await loadScenario(file, values.target ? { target: values.target } : {});
  const specPath = values.spec ?? scenario.spec;
  const spec: Spec | undefined = specPath ? await loadSpec(specPath) : undefined;
  const tty = process.stdout.isTTY && !process.env.CI;
  const routes = spec?.objectives.map((o) => `${o.method} ${o.route}`);
  const phases = phaseNames(spec);
  const connections =
    values.connections === undefined ? undefined : wholeNumber('--connections', values.connections, 1, 256);
  const workers = wholeNumber('--workers', values.workers, 1, 1);
  const warmConnections = wholeNumber('--warm-connections', values['warm-connections'], 0, 0);
  const checkFailures = ratioFlag('--check-failures', values['check-failures']) ?? scenario.checkFailures;
  if (workers > 1 && (scenario.spike || scenario.soak))
    throw new UsageError(
      `${file}: a ${scenario.spike ? 'spike' : 'soak'} verdict needs the run on one thread (drop --workers)`,
    );
  if (workers > 1) process.stdout.write(`running on ${workers} generator threads\n`);
  // Asked before the run, so its figures are not skewed by the scrape.
  const release = await findRelease(scenario.target, {
    version: values['release-version'],
    commit: values['release-commit'],
    token: values['metrics-token'],
  });
  const result =
    workers > 1
      ? await runParallel(scenario, file, { workers, routes, phases, connections, warmConnections })
      : await runScenario(scenario, {
          routes,
          phases,
          connections,
          warmConnections,
          ...(values['abort-on-breach'] && spec ? { abortWhen: breachDetector(spec) } : {}),
          ...(values['metrics-token']
            ? { metricsHeaders: { authorization: `Bearer ${values['metrics-token']}` } }
            : {}),
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

  process.stdout.write(`\n${scenario.name} against ${scenario.target} (${scenario.model} model)\n`);
  process.stdout.write(
    'reason' in release
      ? `release: unknown (${release.reason}; --release-version/--release-commit name it)\n\n`
      : `release: ${release.version} (commit ${release.commit}, from ${release.source === 'flags' ? 'the flags' : "the target's /metrics"})\n\n`,
  );
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
  const gate = judge(result, spec, { checkFailures });
  process.stdout.write(`${verdictTable(gate)}\n`);
  const drills = [
    ...(scenario.spike ? [judgeSpike(result, scenario.spike)] : []),
    ...(scenario.soak ? [judgeSoak(result, scenario.soak)] : []),
  ];
  for (const drill of drills) process.stdout.write(`\n${drillTable(drill)}\n`);
  const artifact = toArtifact(
    scenario,
    result,
    spec ? gate : undefined,
    'reason' in release ? undefined : release,
    drills,
  );
  if (values.out) await writeFile(values.out, `${JSON.stringify(artifact)}\n`);
  await writeReports(artifact, values);
  return result.aborted ? 1 : exitCode(gate, drills);
}

async function writeReports(
  artifact: RunArtifact,
  files: { markdown?: string; junit?: string; html?: string },
  baseline?: RunArtifact,
) {
  if (files.markdown) await writeFile(files.markdown, markdownReport(artifact, baseline ? { baseline } : {}));
  if (files.junit && (artifact.gate || artifact.drills))
    await writeFile(files.junit, junitRunReport(artifact));
  if (files.html) await writeFile(files.html, htmlReport(artifact));
}

async function checkCommand(
  file: string,
  options: { from?: string; spec?: string; route?: string; junit?: string; 'check-failures'?: string },
): Promise<number> {
  if (!options.spec || (options.from !== 'k6' && options.from !== 'autocannon')) {
    process.stderr.write(`headroom check: needs --from k6|autocannon and --spec\n\n${commandHelp('check')}`);
    return 2;
  }
  const checkFailures = ratioFlag('--check-failures', options['check-failures']) ?? 0;
  let summary: unknown;
  try {
    summary = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file}: not a JSON summary (${(error as Error).message})`);
  }
  const imported = options.from === 'k6' ? importK6(summary) : importAutocannon(summary, options.route);
  const gate = judgeFigures(imported.routes, await loadSpec(options.spec), { checkFailures });
  process.stdout.write(`${verdictTable(gate)}\n`);
  if (options.junit) await writeFile(options.junit, junitReport(gate, file));
  return gate.verdict === 'fail' ? 1 : 0;
}

async function capacityCommand(
  file: string,
  values: Partial<
    Record<
      'target' | 'spec' | 'connections' | 'min' | 'max' | 'probe' | 'probes' | 'pause' | 'peak' | 'headroom',
      string
    >
  >,
): Promise<number> {
  const scenario = await loadScenario(file, values.target ? { target: values.target } : {});
  const specPath = values.spec ?? scenario.spec;
  if (!specPath)
    throw new UsageError(
      'headroom capacity needs --spec (or a scenario with spec): the SLO each probe must hold',
    );
  const spec = await loadSpec(specPath);
  const positive = (flag: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback;
    const value = Number(text.replace(/\/s$/, ''));
    if (!(Number.isFinite(value) && value > 0))
      throw new UsageError(`${flag} must be a positive number, got ${JSON.stringify(text)}`);
    return value;
  };
  const duration = (flag: string, text: string | undefined, fallback: string) => {
    try {
      return parseDuration(text ?? fallback);
    } catch {
      throw new UsageError(`${flag} must be a duration such as 10s, got ${JSON.stringify(text)}`);
    }
  };
  const minRate = positive('--min', values.min, 10);
  const maxRate = positive('--max', values.max, 1000);
  if (minRate > maxRate) throw new UsageError(`--min ${minRate} is above --max ${maxRate}`);
  const headroomFactor = positive('--headroom', values.headroom, 1.5);
  const peak = values.peak === undefined ? undefined : positive('--peak', values.peak, 0);
  const connections =
    values.connections === undefined ? undefined : wholeNumber('--connections', values.connections, 1, 256);
  process.stdout.write(`${scenario.name} against ${scenario.target}: probing ${minRate}–${maxRate}/s\n\n`);
  process.stdout.write(
    '| probe | rate /s | achieved /s | held | failed | not judged (too few samples) |\n| ---: | ---: | ---: | --- | --- | --- |\n',
  );
  let n = 0;
  const result = await findCapacity(scenario, {
    spec,
    minRate,
    maxRate,
    probeMs: duration('--probe', values.probe, '10s'),
    probes: wholeNumber('--probes', values.probes, 1, 8),
    pauseMs: duration('--pause', values.pause, '2s'),
    ...(connections ? { connections } : {}),
    onProbe: (p) =>
      process.stdout.write(
        `| ${++n} | ${p.rate} | ${p.achieved.toFixed(1)} | ${p.held ? 'yes' : 'no'} | ${p.failed.join(', ') || '–'} | ${p.insufficient.join(', ') || '–'} |\n`,
      ),
  });
  if (result.capacity === undefined) {
    process.stdout.write(`\ncapacity: none: not even ${minRate}/s held the SLO\n`);
    return 1;
  }
  process.stdout.write(
    `\ncapacity: ${result.atLeast ? '≥ ' : ''}${result.capacity}/s holds the SLO${result.atLeast ? ' (the highest rate tried: raise --max)' : ''}\n`,
  );
  if (peak !== undefined)
    process.stdout.write(
      `instances for a peak of ${peak}/s: ${instancesFor(peak, result.capacity, headroomFactor)} (⌈${peak} ÷ ${result.capacity} × ${headroomFactor}⌉)\n`,
    );
  return 0;
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
    // Bad flags, files and specs are the caller's to fix (exit 2, named); anything else is a fault.
    const known =
      error instanceof UsageError ||
      isHeadroomError(error) ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ||
      (error as { code?: string }).code === 'ENOENT';
    process.stderr.write(`headroom: ${error.message}\n`);
    if (!known && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = 2;
  },
);
