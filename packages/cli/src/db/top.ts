// `headroom db top`: the statements of one database ranked by the time PostgreSQL spent on them, from
// pg_stat_statements, each with the route(s) that sent it. Routes come from the sqlcommenter comment the app
// appends (db/sql-comment.ts), with a caveat this file is honest about: pg_stat_statements keys a statement by
// its queryid, which ignores comments, so one row stands for every route that ran the statement and its text
// keeps the comment of whichever ran it first since the reset. A statement catalogue recorded from the app
// (`--queries`) names all of them.

import { parseArgs } from 'node:util';
import type { DbSubcommand } from './command.ts';
import { connected, type Sql } from './connection.ts';
import { type CatalogueQuery, readCatalogue } from './plans.ts';
import { parseSqlComment, withoutSqlComment } from './sql-comment.ts';
import { textTable } from './text-table.ts';
import { DbUsageError } from './usage-error.ts';

/** Options of {@link queryLeaderboard}. */
export interface LeaderboardOptions {
  /** Rows to answer, the first by total time. @default 20 */
  limit?: number;
  /** Leave out statements called fewer times. @default 1 */
  minCalls?: number;
  /** The app's statement catalogue, to name every route of a statement (`readCatalogue` in db/plans.ts). */
  catalogue?: CatalogueQuery[];
  /**
   * After reading, reset this database's pg_stat_statements entries (other databases' are kept); what runs
   * between the read and the reset is not counted anywhere. @default false
   */
  reset?: boolean;
}

const defaultOptions = { limit: 20, minCalls: 1, reset: false };

/** Where a row's routes come from: the catalogue, the first-seen comment alone, or nowhere. */
export type Attribution = 'catalogue' | 'comment' | 'none';

/** One statement of the leaderboard (snake_case: the JSON the dashboard reads). Times in milliseconds. */
export interface LeaderboardQuery {
  rank: number;
  /** pg_stat_statements' id, as text: it is a 64-bit integer. */
  queryid: string;
  /** Of the database's total time (`total_ms` of the leaderboard), in per cent. */
  share_pct: number;
  /** Execution plus planning (planning is 0 unless pg_stat_statements.track_planning is on). */
  total_ms: number;
  exec_ms: number;
  plan_ms: number;
  calls: number;
  /** Per execution, planning excluded; so are stddev, min, max and the p95 estimate. */
  mean_ms: number;
  stddev_ms: number;
  min_ms: number;
  max_ms: number;
  /**
   * mean + 1.645 × stddev, capped at max: the p95 of a normal distribution with these two moments, not a
   * measured percentile (pg_stat_statements keeps none). Latencies are skewed to the right, so it tends to
   * understate the tail; it is there to tell a steady statement from an erratic one at a glance.
   */
  p95_estimate_ms: number;
  rows: number;
  rows_per_call: number;
  shared_blks_hit: number;
  shared_blks_read: number;
  /** hit / (hit + read), or null when the statement touched no shared block. */
  hit_ratio: number | null;
  /** The route in the stored text's comment: the first that ran the statement since the reset. */
  route: string | null;
  /** Every route known to run it: the catalogue's (and the comment's), or the comment's alone. */
  routes: string[];
  attribution: Attribution;
  /** The comment's statement name, else the catalogue's for the same text. */
  statement: string | null;
  /** pg_stat_statements' normalized text, without the sqlcommenter comment. */
  query: string;
}

/** What {@link queryLeaderboard} answers. */
export interface Leaderboard {
  database: string;
  /** ISO time, by the server's clock. */
  collected_at: string;
  /** The last full reset of pg_stat_statements (a per-database reset does not move it). */
  stats_reset: string | null;
  /** Entries pg_stat_statements evicted for want of room (pg_stat_statements.max): figures miss them. */
  dealloc: number;
  /** Every statement of the database, not only those shown: the base of `share_pct`. */
  total_ms: number;
  /** How many statements the database has in pg_stat_statements (`queries` is the top of them). */
  statements: number;
  track_planning: boolean;
  /** Whether this database's entries were reset after reading. */
  reset: boolean;
  queries: LeaderboardQuery[];
}

/** pg_stat_statements is not loaded or not created: `message` says which, and how to fix it. */
export class StatStatementsMissingError extends Error {}

const hint =
  "pg_stat_statements needs shared_preload_libraries = 'pg_stat_statements' in postgresql.conf (then a restart) " +
  'and CREATE EXTENSION pg_stat_statements in the database.';

// Our own statements carry this tag, so that the leaderboard leaves them out when a later run reads them back.
const own = 'headroom db top';
const tag = `\n/*application='${encodeURIComponent(own)}'*/`;

/**
 * Reads the leaderboard of the database `db` connects to (a URL, or a connection to use): its statements ranked
 * by total time, execution and planning, with their routes. Throws {@link StatStatementsMissingError} when
 * pg_stat_statements is not there.
 *
 * @example
 * const board = await queryLeaderboard(process.env.DATABASE_URL!, { limit: 10 });
 * for (const q of board.queries) console.log(q.rank, q.total_ms, q.routes.join(', '), q.query);
 */
export async function queryLeaderboard(
  db: string | Sql,
  options: LeaderboardOptions = {},
): Promise<Leaderboard> {
  const limit = options.limit ?? defaultOptions.limit;
  const minCalls = options.minCalls ?? defaultOptions.minCalls;
  const reset = options.reset ?? defaultOptions.reset;
  return connected(db, async (sql) => {
    const about = (
      await sql.query(
        `SELECT current_database() AS database, d.oid::int8 AS dbid, clock_timestamp() AS collected_at,
           (SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
             WHERE e.extname = 'pg_stat_statements') AS schema,
           current_setting('pg_stat_statements.max', true) IS NOT NULL AS loaded,
           coalesce(current_setting('pg_stat_statements.track_planning', true), 'off') = 'on' AS track_planning
         FROM pg_database d WHERE d.datname = current_database()${tag}`,
      )
    ).rows[0] as About;
    if (!about.loaded || about.schema === null) {
      const missing = !about.loaded
        ? 'pg_stat_statements is not loaded (shared_preload_libraries)'
        : `the extension pg_stat_statements is not created in database ${about.database}`;
      throw new StatStatementsMissingError(`${missing}: ${hint}`);
    }
    const schema = about.schema;
    // toplevel only: with pg_stat_statements.track = all, a statement run inside a function is counted in the
    // function's call too, and would be counted twice. One statement can have a row per role: they are summed,
    // and the text kept is the oldest row's (stats_since), the nearest to "the first to run it".
    const rows = (
      await sql.query(
        `SELECT queryid::text AS queryid, (array_agg(query ORDER BY stats_since, userid))[1] AS query,
           sum(calls)::float8 AS calls, sum(total_exec_time) AS exec_ms, sum(total_plan_time) AS plan_ms,
           coalesce(min(min_exec_time) FILTER (WHERE calls > 0), 0) AS min_ms, max(max_exec_time) AS max_ms,
           sum(calls * (stddev_exec_time ^ 2 + mean_exec_time ^ 2)) AS sum_squares,
           sum(rows)::float8 AS rows, sum(shared_blks_hit)::float8 AS hit, sum(shared_blks_read)::float8 AS read
         FROM ${schema}.pg_stat_statements WHERE dbid = $1 AND toplevel GROUP BY queryid${tag}`,
        [about.dbid],
      )
    ).rows as StatementRow[];
    const info = (
      await sql.query(
        `SELECT stats_reset, dealloc::float8 AS dealloc FROM ${schema}.pg_stat_statements_info${tag}`,
      )
    ).rows[0] as { stats_reset: Date | null; dealloc: number };
    if (reset) {
      // This database's entries only: pg_stat_statements_reset() alone would wipe every database's.
      await sql.query(`SELECT ${schema}.pg_stat_statements_reset(0, $1::oid, 0)${tag}`, [about.dbid]);
    }

    const statements = rows
      .map((row) => ({ row, tags: parseSqlComment(row.query) }))
      .filter(({ tags }) => tags.application !== own);
    const totalMs = statements.reduce((sum, { row }) => sum + row.exec_ms + row.plan_ms, 0);
    const attribute = attributor(options.catalogue);
    const queries = statements
      .filter(({ row }) => row.calls >= minCalls)
      .sort(
        (a, b) =>
          b.row.exec_ms + b.row.plan_ms - (a.row.exec_ms + a.row.plan_ms) ||
          a.row.queryid.localeCompare(b.row.queryid),
      )
      .slice(0, limit)
      .map(({ row, tags }, i) => leaderboardQuery(i + 1, row, tags, totalMs, attribute));
    return {
      database: about.database,
      collected_at: about.collected_at.toISOString(),
      stats_reset: info.stats_reset?.toISOString() ?? null,
      dealloc: info.dealloc,
      total_ms: round(totalMs),
      statements: statements.length,
      track_planning: about.track_planning,
      reset,
      queries,
    };
  });
}

interface About {
  database: string;
  dbid: string;
  collected_at: Date;
  schema: string | null;
  loaded: boolean;
  track_planning: boolean;
}

interface StatementRow {
  queryid: string;
  query: string;
  calls: number;
  exec_ms: number;
  plan_ms: number;
  min_ms: number;
  max_ms: number;
  sum_squares: number;
  rows: number;
  hit: number;
  read: number;
}

function leaderboardQuery(
  rank: number,
  row: StatementRow,
  tags: ReturnType<typeof parseSqlComment>,
  totalMs: number,
  attribute: ReturnType<typeof attributor>,
): LeaderboardQuery {
  const total = row.exec_ms + row.plan_ms;
  const mean = row.calls > 0 ? row.exec_ms / row.calls : 0;
  // The rows of several roles pooled: E[x²] − E[x]² (pg_stat_statements' stddev is the population's).
  const stddev = row.calls > 0 ? Math.sqrt(Math.max(row.sum_squares / row.calls - mean * mean, 0)) : 0;
  const { routes, attribution, statement } = attribute(row.query, tags);
  return {
    rank,
    queryid: row.queryid,
    share_pct: totalMs > 0 ? round((total / totalMs) * 100) : 0,
    total_ms: round(total),
    exec_ms: round(row.exec_ms),
    plan_ms: round(row.plan_ms),
    calls: row.calls,
    mean_ms: round(mean),
    stddev_ms: round(stddev),
    min_ms: round(row.min_ms),
    max_ms: round(row.max_ms),
    p95_estimate_ms: round(Math.min(mean + 1.645 * stddev, row.max_ms)),
    rows: row.rows,
    rows_per_call: row.calls > 0 ? round(row.rows / row.calls) : 0,
    shared_blks_hit: row.hit,
    shared_blks_read: row.read,
    hit_ratio: row.hit + row.read > 0 ? round(row.hit / (row.hit + row.read), 4) : null,
    route: tags.route ?? null,
    routes,
    attribution,
    statement,
    query: withoutSqlComment(row.query),
  };
}

// Finds a statement's catalogue entries: by the comment's statement name, else (casebook names only its hot
// statements) by text, compared as pg_stat_statements compares them: comments, constants and spacing aside.
function attributor(catalogue: CatalogueQuery[] | undefined) {
  const byName = new Map<string, CatalogueQuery[]>();
  const byShape = new Map<string, CatalogueQuery[]>();
  for (const entry of catalogue ?? []) {
    for (const [map, key] of [
      [byName, entry.name],
      [byShape, shape(entry.text)],
    ] as const) {
      map.set(key, [...(map.get(key) ?? []), entry]);
    }
  }
  return (query: string, tags: ReturnType<typeof parseSqlComment>) => {
    const entries =
      (tags.statement === undefined ? undefined : byName.get(tags.statement)) ?? byShape.get(shape(query));
    const statement = tags.statement ?? entries?.[0]?.name ?? null;
    if (entries !== undefined) {
      const routes = new Set(entries.flatMap((e) => e.routes ?? []));
      // The comment proves its route ran the statement, whatever an older catalogue says.
      if (tags.route !== undefined) routes.add(tags.route);
      return { routes: [...routes].sort(), attribution: 'catalogue' as const, statement };
    }
    if (tags.route !== undefined) return { routes: [tags.route], attribution: 'comment' as const, statement };
    return { routes: [], attribution: 'none' as const, statement };
  };
}

const shape = (text: string) =>
  text
    .replace(/\/\*[\s\S]*?\*\/|--[^\n]*/g, ' ')
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/\$\d+|\b\d+(?:\.\d+)?\b/g, '?')
    // PostgreSQL 18 squashes a list of constants into one: `IN ($1 /*, ... */)`.
    .replace(/\?(?:\s*,\s*\?)+/g, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

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
