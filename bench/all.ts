// Every bench in sequence, one summary: each bench's command, exit code, duration and the lines where it
// judges itself against a goal (the lines that say "goal", "met" or a ratio), as a table and as
// bench/results/summary.json (not committed).
//
//   npm run bench                         every bench, as `npm run bench:<name>` runs it
//   npm run bench -- --only policy,cache  some of them
//   npm run bench -- --list               the benches and their commands, nothing run
//
// The benches run one at a time: each measures a peer in the same run, and two at once would share the
// machine's cores and spoil both.

import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');

/** The `bench:<name>` scripts of the root package.json, in order. */
async function benches(): Promise<[name: string, command: string][]> {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  return Object.entries(manifest.scripts)
    .filter(([script]) => script.startsWith('bench:'))
    .map(([script, command]) => [script.slice('bench:'.length), command]);
}

/**
 * Lines in which a bench judges itself: against a goal, met or not, or as a ratio or an overhead against its
 * peer. Table header and separator rows (no digit in them) are left out; data rows stay.
 */
export function verdictLines(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /\bgoal\b|\bmet\b|ratio|÷|overhead|\d\.\d+x\b/i.test(line))
    .filter((line) => !line.startsWith('|') || /\d/.test(line.replace(/^\|\s*-.*$/, '')));
}

interface BenchRun {
  bench: string;
  command: string;
  exitCode: number | null;
  seconds: number;
  verdicts: string[];
  /** True when a verdict line says NOT met, or the bench exited non-zero. */
  failed: boolean;
}

function run(name: string): Promise<BenchRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    // Through npm, as a user runs it: npm's node-options give the repository's source condition.
    const child = spawn('npm', ['run', '--silent', `bench:${name}`], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (exitCode) => {
      const verdicts = verdictLines(output);
      resolve({
        bench: name,
        command: `npm run bench:${name}`,
        exitCode,
        seconds: Math.round((performance.now() - started) / 100) / 10,
        verdicts,
        failed: exitCode !== 0 || verdicts.some((line) => /NOT met/.test(line)),
      });
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, list: { type: 'boolean', default: false } },
  });
  const all = await benches();
  if (values.list) {
    for (const [name, command] of all) process.stdout.write(`${name.padEnd(18)} ${command}\n`);
    return 0;
  }
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((name) => !all.some(([n]) => n === name)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`bench: no bench named ${unknown.join(', ')} (npm run bench -- --list)\n`);
    return 2;
  }
  const chosen = all.filter(([name]) => !only || only.includes(name));
  const runs: BenchRun[] = [];
  for (const [name] of chosen) {
    process.stdout.write(`\n== bench:${name} ==\n`);
    runs.push(await run(name));
  }
  await mkdir(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', 'summary.json');
  await writeFile(file, `${JSON.stringify({ at: new Date().toISOString(), runs }, null, 2)}\n`);
  process.stdout.write('\n| bench | exit | seconds | verdict |\n| --- | ---: | ---: | --- |\n');
  for (const r of runs) {
    const verdict = r.verdicts.join('<br>') || '(no verdict line)';
    process.stdout.write(
      `| ${r.command} | ${r.exitCode} | ${r.seconds} | ${verdict.replaceAll('|', '\\|')} |\n`,
    );
  }
  process.stdout.write(`\nsummary: ${file}\n`);
  return runs.some((r) => r.failed) ? 1 : 0;
}

if (import.meta.main) process.exitCode = await main();
