// `headroom db lint <dir>`: squawk over a folder of migrations, with the folder's checked-in `.squawk.toml`. Each
// file is linted as headroom's runner applies it: in a transaction of its own, or outside one when its first line
// is `-- headroom: no-transaction` (CREATE INDEX CONCURRENTLY). Squawk takes "assume in transaction" for a whole
// run only, so the two kinds go to two runs of it.

import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DbSubcommand } from './command.ts';
import { DbUsageError } from './usage-error.ts';

/** One thing squawk found, at a 1-based line and column. */
export interface LintFinding {
  file: string;
  line: number;
  column: number;
  /** Squawk's rule name, as `-- squawk-ignore` and `excluded_rules` take it. */
  rule: string;
  level: 'warning' | 'error';
  message: string;
  help?: string;
}

/** Options of {@link lintMigrations}. */
export interface LintOptions {
  /** The squawk configuration. @default the first `.squawk.toml` in the folder or a folder above it */
  config?: string;
}

/** What {@link lintMigrations} linted, and what it found. */
export interface LintResult {
  /** The `*.sql` files, sorted, as `<dir>/<name>`. */
  files: string[];
  /** The configuration they were linted with. */
  config: string;
  findings: LintFinding[];
}

/** The marker the runner reads (apps/casebook/src/db/migrate.ts), on a migration's first line. */
const noTransaction = /^--\s*headroom:\s*no-transaction\b/;

/**
 * Lints every `*.sql` file in `dir` with squawk. A missing folder or configuration, or a folder without SQL, throws
 * a {@link DbUsageError} naming it.
 *
 * @example
 * const { findings } = await lintMigrations('apps/casebook/migrations');
 * for (const f of findings) console.log(`${f.file}:${f.line} ${f.rule}`);
 */
export async function lintMigrations(dir: string, options: LintOptions = {}): Promise<LintResult> {
  const found = await stat(dir).catch(() => undefined);
  if (!found?.isDirectory()) throw new DbUsageError(`${dir} is not a directory`);
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  if (names.length === 0) throw new DbUsageError(`${dir} has no .sql files`);
  const config = options.config ?? (await findConfig(dir));
  if (!(await stat(config).catch(() => undefined))?.isFile()) {
    throw new DbUsageError(`--config ${config}: no such file`);
  }
  const files = names.map((name) => join(dir, name));
  const outside: string[] = [];
  const inside: string[] = [];
  for (const file of files) (noTransaction.test(await readFile(file, 'utf8')) ? outside : inside).push(file);
  const findings = [...(await squawk(inside, config, true)), ...(await squawk(outside, config, false))].sort(
    (a, b) => files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line || a.column - b.column,
  );
  return { files, config, findings };
}

// As squawk looks for its configuration from the working directory up, but from the migrations instead.
async function findConfig(dir: string): Promise<string> {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const candidate = join(at, '.squawk.toml');
    if (await stat(candidate).catch(() => undefined)) return candidate;
    if (dirname(at) === at) {
      throw new DbUsageError(`no .squawk.toml in ${dir} or above it: pass --config FILE`);
    }
  }
}

/** The fields of squawk's `--reporter json`, whose lines and columns count from 0. */
interface SquawkViolation {
  file: string;
  line: number;
  column: number;
  level: string;
  message: string;
  help?: string | null;
  rule_name: string;
}

async function squawk(files: string[], config: string, inTransaction: boolean): Promise<LintFinding[]> {
  if (files.length === 0) return [];
  const args = [
    '--reporter=json',
    `--config=${config}`,
    inTransaction ? '--assume-in-transaction' : '--no-assume-in-transaction',
    // A file the configuration's excluded_paths leaves out is not an error.
    '--no-error-on-unmatched-pattern',
    '--',
    // Squawk reads its arguments as globs.
    ...files.map((file) => file.replace(/[[\]*?]/g, '[$&]')),
  ];
  const { code, stdout, stderr } = await run(process.execPath, [squawkLauncher(), ...args]);
  let violations: SquawkViolation[] | undefined;
  try {
    violations = JSON.parse(stdout) as SquawkViolation[];
  } catch {}
  if ((code !== 0 && code !== 1) || !Array.isArray(violations)) {
    const said = stderr.trim() || `exit code ${code}`;
    if (said.startsWith('Configuration error')) throw new DbUsageError(`--config ${config}: ${said}`);
    throw new Error(`squawk failed: ${said}`);
  }
  return violations.map((v) => ({
    file: v.file,
    line: v.line + 1,
    column: v.column + 1,
    rule: v.rule_name,
    level: v.level.toLowerCase() === 'error' ? 'error' : 'warning',
    message: v.message,
    ...(v.help ? { help: v.help } : {}),
  }));
}

// The package's own launcher finds the native binary for this platform wherever npm put it.
function squawkLauncher(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('squawk-cli/package.json');
  const { bin } = require(manifest) as { bin: Record<string, string> };
  return join(dirname(manifest), bin.squawk!);
}

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Text output: a line per finding (and squawk's help under it), then `N files, M violations`. */
export function lintText(result: LintResult): string {
  const lines = result.findings.flatMap((f) => [
    `${f.file}:${f.line}:${f.column}: ${f.level} ${f.rule}: ${f.message}`,
    ...(f.help ? [`  help: ${f.help}`] : []),
  ]);
  lines.push(`${plural(result.files.length, 'file')}, ${plural(result.findings.length, 'violation')}`);
  return `${lines.join('\n')}\n`;
}

export const lintCommand: DbSubcommand = {
  usage: 'headroom db lint <dir> [--config FILE] [--format text|json]',
  summary: 'lint migrations with squawk (in a transaction each, unless `-- headroom: no-transaction`)',
  options: [
    ['--config FILE', 'the squawk configuration (default: the first .squawk.toml in <dir> or above it)'],
    ['--format text|json', 'text: a line per finding and a summary (default); json: an array of findings'],
  ],
  exitCodes: 'Exit codes: 0 no violations, 1 squawk found some, 2 bad usage, folder or configuration.',
  examples: [
    'headroom db lint apps/casebook/migrations',
    'headroom db lint migrations --config ci/.squawk.toml --format json > squawk.json',
  ],
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { config: { type: 'string' }, format: { type: 'string', default: 'text' } },
    });
    const [dir, ...extra] = positionals;
    if (dir === undefined) throw new DbUsageError('name the folder of migrations: headroom db lint <dir>');
    if (extra.length > 0) throw new DbUsageError(`one folder only, got also ${extra.join(' ')}`);
    if (values.format !== 'text' && values.format !== 'json') {
      throw new DbUsageError(`--format must be text or json, got ${JSON.stringify(values.format)}`);
    }
    const result = await lintMigrations(dir, values.config === undefined ? {} : { config: values.config });
    if (values.format === 'json') process.stdout.write(`${JSON.stringify(result.findings, null, 2)}\n`);
    else process.stdout.write(lintText(result));
    return result.findings.length > 0 ? 1 : 0;
  },
};
