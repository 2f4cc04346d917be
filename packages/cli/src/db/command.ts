// `headroom db <subcommand>`: query hygiene for PostgreSQL. Each subcommand lives in a module of its own and
// parses its own flags; this file only dispatches and prints help.

import { indexesCommand } from './indexes.ts';
import { lintCommand } from './lint.ts';
import { plansCommand } from './plans.ts';
import { topCommand } from './top.ts';
import { DbUsageError } from './usage-error.ts';

/** One `headroom db` subcommand: its help and what it runs (exit 0 fine, 1 a finding that fails, 2 usage). */
export interface DbSubcommand {
  usage: string;
  summary: string;
  options: [flag: string, text: string][];
  examples: string[];
  /** Exit codes, when they differ from the default sentence. */
  exitCodes?: string;
  run(argv: string[]): Promise<number>;
}

export { DbUsageError } from './usage-error.ts';

const subcommands: Record<string, DbSubcommand> = {
  lint: lintCommand,
  top: topCommand,
  plans: plansCommand,
  indexes: indexesCommand,
};

const defaultExitCodes = 'Exit codes: 0 fine, 1 a finding that fails the check, 2 bad usage or input.';

/** `headroom db <sub> --help`. */
export function dbSubcommandHelp(name: string): string {
  const c = subcommands[name]!;
  const width = Math.max(...c.options.map(([flag]) => flag.length), 10) + 2;
  const options = [...c.options, ['-h, --help', 'this text'] as [string, string]]
    .map(([flag, text]) => `  ${flag.padEnd(width)}${text}`)
    .join('\n');
  return `${c.usage}\n\n${c.summary}\n\nOptions:\n${options}\n\n${c.exitCodes ?? defaultExitCodes}\n\nExamples:\n${c.examples.map((e) => `  ${e}`).join('\n')}\n`;
}

/** The lines `headroom --help` lists for the db subcommands. */
export const dbSummaries: [name: string, summary: string][] = Object.entries(subcommands).map(([name, c]) => [
  `db ${name}`,
  c.summary,
]);

const dbHelp = `headroom db — PostgreSQL query hygiene

Usage:
${Object.entries(subcommands)
  .map(([name, c]) => `  headroom db ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}

Run \`headroom db <subcommand> --help\` for its options and examples.
`;

/**
 * Runs `headroom db ...` (argv after `db`).
 *
 * @example
 * process.exitCode = await dbCommand(['top', '--database-url', url]);
 */
export async function dbCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(dbHelp);
    return name === undefined ? 2 : 0;
  }
  const sub = subcommands[name];
  if (!sub) {
    process.stderr.write(`headroom db: unknown subcommand "${name}"\n\n${dbHelp}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(dbSubcommandHelp(name));
    return 0;
  }
  try {
    return await sub.run(rest);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (error instanceof DbUsageError || code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`headroom db ${name}: ${(error as Error).message}\n\n${dbSubcommandHelp(name)}`);
      return 2;
    }
    throw error;
  }
}
