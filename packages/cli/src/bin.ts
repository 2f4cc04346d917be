#!/usr/bin/env node
// The `headroom` command.

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadSpec, type Spec } from '@headroom/core/slo';
import { toArtifact } from './artifact.ts';
import { runScenario } from './engine/run.ts';
import { judge } from './gate/judge.ts';
import { verdictTable } from './gate/table.ts';
import { loadScenario } from './scenario/load-scenario.ts';

const help = `headroom — load, judge and compare HTTP APIs against their budgets

Usage:
  headroom load <scenario.yaml> [options]   run a scenario, print per-route figures, judge them

Options for load:
  --target URL        the server to load (overrides the scenario's target)
  --spec FILE         headroom.yaml to name routes by and judge against (overrides the scenario's spec)
  --out FILE          save the run artifact (JSON: merged HDR histograms per stage and route)
  --connections N     sockets to the target (default 256)
  -h, --help          this text

Exit codes: 0 gate passed (or nothing to judge), 1 a budget was breached, 2 bad usage or input.

Examples:
  headroom load scenarios/golden-path.yaml --target http://127.0.0.1:3000 --spec apps/casebook/headroom.yaml
  headroom load scenarios/peak.yaml --out runs/peak-1.json
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
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, file] = positionals;
  if (values.help || !command) {
    process.stdout.write(help);
    return command || values.help ? 0 : 2;
  }
  if (command !== 'load' || !file) {
    process.stderr.write(`unknown command or missing scenario: ${positionals.join(' ')}\n\n${help}`);
    return 2;
  }

  const scenario = await loadScenario(file, values.target ? { target: values.target } : {});
  const specPath = values.spec ?? scenario.spec;
  const spec: Spec | undefined = specPath ? await loadSpec(specPath) : undefined;
  const tty = process.stdout.isTTY && !process.env.CI;
  const result = await runScenario(scenario, {
    routes: spec?.objectives.map((o) => `${o.method} ${o.route}`),
    connections: values.connections ? Number(values.connections) : undefined,
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

  const gate = judge(result, spec);
  process.stdout.write(`${verdictTable(gate)}\n`);
  if (values.out)
    await writeFile(values.out, `${JSON.stringify(toArtifact(scenario, result, spec ? gate : undefined))}\n`);
  return gate.verdict === 'fail' ? 1 : 0;
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
