// The statements of one database ranked by the time PostgreSQL spent on them, from pg_stat_statements, each with
// the route(s) that sent it (route-attribution.ts): what `headroom db top` prints and the operations page shows.
// No driver dependency: any client with node-postgres's `query(text, values)` (a Pool, Client or PoolClient).

import { type Attribution, type CatalogueQuery, routeAttributor } from './route-attribution.ts';
import { parseSqlComment, type SqlTags, withoutSqlComment } from './sql-comment.ts';

/** What the leaderboard needs of a connection: node-postgres's `query` (a pg.Pool, Client or PoolClient). */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Options of {@link queryLeaderboard}. */
export interface LeaderboardOptions {
  /** Rows to answer, the first by total time. @default 20 */
  limit?: number;
  /** Leave out statements called fewer times. @default 1 */
  minCalls?: number;
  /** The app's statement catalogue, to name every route of a statement. */
  catalogue?: readonly CatalogueQuery[];
  /**
   * After reading, reset this database's pg_stat_statements entries (other databases' are kept); what runs
   * between the read and the reset is not counted anywhere. @default false
   */
  reset?: boolean;
}

const defaultOptions = {
  /** @default 20 */
  limit: 20,
  /** @default 1 */
  minCalls: 1,
  /** @default false */
  reset: false,
};

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
export class StatStatementsMissingError extends Error {
  override name = 'StatStatementsMissingError';
}

const hint =
  "pg_stat_statements needs shared_preload_libraries = 'pg_stat_statements' in postgresql.conf (then a restart) " +
  'and CREATE EXTENSION pg_stat_statements in the database.';

// Our own statements carry this tag, so that the leaderboard leaves them out when a later read sees them. The
// name predates the operations page; it stays, so the entries earlier reads left behind stay out too.
const own = 'headroom db top';
const tag = `\n/*application='${encodeURIComponent(own)}'*/`;

/**
 * Reads the leaderboard of the database `sql` is connected to: its statements ranked by total time, execution
 * and planning, with their routes. Rejects with {@link StatStatementsMissingError} when pg_stat_statements is
 * not there.
 *
 * @example
 * const board = await queryLeaderboard(pool, { limit: 10, catalogue });
 * for (const q of board.queries) console.log(q.rank, q.total_ms, q.routes.join(', '), q.query);
 */
export async function queryLeaderboard(
  sql: SqlClient,
  options: LeaderboardOptions = {},
): Promise<Leaderboard> {
  const limit = options.limit ?? defaultOptions.limit;
  const minCalls = options.minCalls ?? defaultOptions.minCalls;
  const reset = options.reset ?? defaultOptions.reset;
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
  const attribute = routeAttributor(options.catalogue);
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
  tags: SqlTags,
  totalMs: number,
  attribute: ReturnType<typeof routeAttributor>,
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

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;
