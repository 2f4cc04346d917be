// Each test file gets its own database, cloned from the migrated template that test/global-setup.ts made.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  /** DROP DATABASE ... WITH (FORCE) while the pool is open: its connections are killed, as in an outage. */
  drop(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fresh database for this test file, migrated and empty (or, with `migrated: false`, without even the
 * schema); `close()` drops it.
 */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.HEADROOM_TEST_PG_URL;
  const template = process.env.HEADROOM_TEST_PG_TEMPLATE;
  if (!adminUrl || !template) {
    throw new Error('no test PostgreSQL: run tests through `npm test` (node --test --test-global-setup=...)');
  }
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(
      `CREATE DATABASE ${name} TEMPLATE ${options.migrated === false ? 'template0' : template}`,
    );
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  // A connection killed by drop() emits 'error' on the idle client; that is the point, not a crash.
  pool.on('error', () => {});
  const drop = async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };
  let closed: Promise<void> | undefined;
  return {
    url: url.toString(),
    pool,
    drop,
    close() {
      closed ??= pool.end().then(drop);
      return closed;
    },
  };
}
