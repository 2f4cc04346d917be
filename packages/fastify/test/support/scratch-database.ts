// A database of its own for one test file, on the PostgreSQL that test/global-setup.ts started; dropped at the end.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Creates an empty database and a pool on it; `close()` ends the pool and drops the database.
 *
 * @example
 * const db = await scratchDatabase();
 * after(() => db.close());
 */
export async function scratchDatabase(): Promise<{ pool: pg.Pool; close(): Promise<void> }> {
  const server = process.env.HEADROOM_TEST_PG_URL;
  if (!server) throw new Error('no test PostgreSQL: run with --test-global-setup=test/global-setup.ts');
  const name = `fops_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: server, max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.href, max: 4 });
  pool.on('error', () => {}); // the drop below ends idle connections
  return {
    pool,
    async close() {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
