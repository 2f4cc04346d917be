// The slowest statements for the operations page (`opsPage.slowQueries`): the leaderboard `headroom db top`
// prints, read on the app's own pool, each statement with every route the statement catalogue names for it.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CatalogueQuery,
  type LeaderboardQuery,
  queryLeaderboard,
  type SqlClient,
  StatStatementsMissingError,
} from '@headroom/core/db';

/** The statement catalogue `npm run db:record` writes. */
export const statementCatalogueFile = join(import.meta.dirname, '..', '..', 'db', 'queries.json');

/** What the page shows: the top statements, or none and why. */
export interface SlowQueries {
  queries: LeaderboardQuery[];
  /** Set when there is nothing to read: pg_stat_statements is not loaded or not created, and how to fix it. */
  reason?: string;
}

/**
 * Reads the statement catalogue once (at start-up: it changes only with a release). A file that is not one
 * rejects, naming it.
 *
 * @example
 * const catalogue = await readStatementCatalogue();
 */
export async function readStatementCatalogue(file = statementCatalogueFile): Promise<CatalogueQuery[]> {
  const { queries } = JSON.parse(await readFile(file, 'utf8')) as { queries?: unknown };
  const entry = (q: unknown) =>
    typeof (q as CatalogueQuery)?.name === 'string' && typeof (q as CatalogueQuery).text === 'string';
  if (!Array.isArray(queries) || !queries.every(entry)) {
    throw new TypeError(`${file}: not a statement catalogue ({ queries: [{ name, text, routes }] })`);
  }
  return queries;
}

/**
 * The page's reader: the 10 statements of the pool's database with the most total time since the last reset of
 * pg_stat_statements. Without pg_stat_statements it answers no rows and the reason; other failures (the
 * database down) reject, and the page says the slow queries could not be read.
 *
 * @example
 * opsPage: { slowQueries: slowQueries(pool, await readStatementCatalogue()) }
 */
export function slowQueries(
  pool: SqlClient,
  catalogue: readonly CatalogueQuery[],
): () => Promise<SlowQueries> {
  const options = { limit: 10, minCalls: 1, catalogue };
  return async function readSlowQueries() {
    try {
      return { queries: (await queryLeaderboard(pool, options)).queries };
    } catch (error) {
      if (!(error instanceof StatStatementsMissingError)) throw error;
      return { queries: [], reason: error.message };
    }
  };
}
