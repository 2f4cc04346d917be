// `headroom db top`: the statements of one database ranked by the time PostgreSQL spent on them, from
// pg_stat_statements, each with the route(s) that sent it; the reading is @headroom/core/db's `queryLeaderboard`,
// which the operations page shows too. Routes come from the sqlcommenter comment the app appends, with a caveat
// this command is honest about: pg_stat_statements keys a statement by its queryid, which ignores comments, so one
// row stands for every route that ran the statement and its text keeps the comment of whichever ran it first
// since the reset. A statement catalogue recorded from the app (`--queries`) names all of them.

import { parseArgs } from 'node:util';
import {
  type Leaderboard,
  type LeaderboardOptions,
  queryLeaderboard as readLeaderboard,
  StatStatementsMissingError,
} from '@headroom/core/db';
import type { DbSubcommand } from './command.ts';
import { connected, type Sql } from './connection.ts';
import { readCatalogue } from './plans.ts';
import { textTable } from './text-table.ts';
import { DbUsageError } from './usage-error.ts';

export type { Attribution, Leaderboard, LeaderboardOptions, LeaderboardQuery } from '@headroom/core/db';
export { StatStatementsMissingError } from '@headroom/core/db';

/**
 * Reads the leaderboard of the database `db` connects to (a URL, or a connection to use): `queryLeaderboard` of
 * @headroom/core/db, with a URL that does not parse or connect reported as a {@link DbUsageError}. Throws
 * {@link StatStatementsMissingError} when pg_stat_statements is not there.
 *
 * @example
 * const board = await queryLeaderboard(process.env.DATABASE_URL!, { limit: 10 });
 * for (const q of board.queries) console.log(q.rank, q.total_ms, q.routes.join(', '), q.query);
 */
export function queryLeaderboard(db: string | Sql, options: LeaderboardOptions = {}): Promise<Leaderboard> {
  return connected(db, (sql) => readLeaderboard(sql, options));
}

const clip = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);
const ms = (value: number) => value.toFixed(2);

/** The table `headroom db top` prints: a header line, a row per statement, and what its figures mean. */
export function leaderboardText(board: Leaderboard): string {
  const since = board.stats_reset === null ? '' : `, pg_stat_statements reset at ${board.stats_reset}`;
  const lines = [
    `${board.database}: ${board.statements} statements, ${ms(board.total_ms)} ms in total (collected at ${board.collected_at}${since})`,
  ];
  if (board.queries.length === 0) lines.push('no statements to show');
  else {
    const header = [
      '#',
      'share',
      'total ms',
      'calls',
      'mean ms',
      '~p95 ms',
      'rows',
      'rows/call',
      'hit',
      'read',
    ];
    const table = [[...header, 'hit %', 'route', 'statement', 'query']];
    for (const q of board.queries) {
      const first = q.route ?? q.routes[0];
      const others = q.routes.filter((r) => r !== first).length;
      table.push([
        String(q.rank),
        `${q.share_pct.toFixed(1)}%`,
        ms(q.total_ms),
        String(q.calls),
        ms(q.mean_ms),
        ms(q.p95_estimate_ms),
        String(q.rows),
        q.rows_per_call.toFixed(1),
        String(q.shared_blks_hit),
        String(q.shared_blks_read),
        q.hit_ratio === null ? '–' : `${(q.hit_ratio * 100).toFixed(1)}%`,
        first === undefined ? '–' : `${clip(first, 40)}${others > 0 ? ` +${others}` : ''}`,
        q.statement === null ? '–' : clip(q.statement, 30),
        clip(q.query.replace(/\s+/g, ' '), 70),
      ]);
    }
    lines.push(textTable(table));
  }
  lines.push(
    '',
    '~p95: mean + 1.645 × stddev capped at max, an estimate from two moments, not a measured percentile.',
  );
  if (board.queries.some((q) => q.attribution === 'comment')) {
    lines.push(
      'route: the first route to run the statement since the reset (pg_stat_statements keeps one text per statement);',
      '  others may share the row: pass --queries with the statement catalogue to list them all.',
    );
  }
  if (!board.track_planning)
    lines.push('Planning time is not counted (pg_stat_statements.track_planning is off).');
  if (board.dealloc > 0) {
    lines.push(
      `${board.dealloc} statements were evicted since the reset (pg_stat_statements.max): totals miss them.`,
    );
  }
  if (board.reset) lines.push(`Reset pg_stat_statements for database ${board.database} after reading it.`);
  return `${lines.join('\n')}\n`;
}

function integerFlag(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new DbUsageError(`${flag} must be an integer of at least ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

export const topCommand: DbSubcommand = {
  usage: 'headroom db top --database-url URL [--limit N] [--min-calls N] [--queries FILE] [--json] [--reset]',
  summary:
    'the statements of a database ranked by total time (pg_stat_statements), with the routes that ran them',
  options: [
    ['--database-url URL', 'the database to read (postgres://user:password@host:port/database)'],
    ['--limit N', 'statements to show, the first by total time (default 20)'],
    ['--min-calls N', 'leave out statements called fewer than N times (default 1)'],
    ['--queries FILE', "the app's statement catalogue (JSON): list every route that runs each statement"],
    ['--json', 'print { database, collected_at, total_ms, queries: [...] } for the dashboard'],
    ['--reset', "reset this database's pg_stat_statements entries after reading them"],
  ],
  exitCodes:
    'Exit codes: 0 done, 2 bad usage, an unreachable database, or pg_stat_statements missing (loaded through ' +
    "shared_preload_libraries = 'pg_stat_statements', then CREATE EXTENSION pg_stat_statements).",
  examples: [
    'headroom db top --database-url postgres://casebook@127.0.0.1:5432/casebook --limit 10',
    'headroom db top --database-url "$DATABASE_URL" --queries apps/casebook/db/queries.json --json > top.json',
    'headroom db top --database-url "$DATABASE_URL" --min-calls 100 --reset',
  ],
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        'database-url': { type: 'string' },
        limit: { type: 'string' },
        'min-calls': { type: 'string' },
        queries: { type: 'string' },
        json: { type: 'boolean', default: false },
        reset: { type: 'boolean', default: false },
      },
    });
    const url = values['database-url'];
    if (url === undefined) throw new DbUsageError('--database-url URL is required');
    const limit = integerFlag('--limit', values.limit, 1);
    const minCalls = integerFlag('--min-calls', values['min-calls'], 0);
    const catalogue =
      values.queries === undefined ? undefined : (await readCatalogue(values.queries)).queries;
    let board: Leaderboard;
    try {
      board = await queryLeaderboard(url, {
        reset: values.reset,
        ...(limit === undefined ? {} : { limit }),
        ...(minCalls === undefined ? {} : { minCalls }),
        ...(catalogue === undefined ? {} : { catalogue }),
      });
    } catch (error) {
      if (!(error instanceof StatStatementsMissingError)) throw error;
      process.stderr.write(`headroom db top: ${error.message}\n`);
      return 2;
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(board, null, 2)}\n`);
      if (board.reset)
        process.stderr.write(`headroom db top: reset pg_stat_statements for ${board.database}\n`);
    } else process.stdout.write(leaderboardText(board));
    return 0;
  },
};
