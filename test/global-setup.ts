// Runs once per `npm test`: one embedded PostgreSQL for the whole run, with a migrated template database
// from which each test file clones its own database (see apps/casebook/test/support/database.ts).

import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../apps/casebook/src/db/migrate.ts';
import { type PostgresServer, startPostgres } from '../packages/dev-servers/src/postgres.ts';

let server: PostgresServer | undefined;
let dataDir: string | undefined;

export const templateDatabase = 'casebook_template';

export async function globalSetup() {
  try {
    await setup();
  } catch (error) {
    // node --test (24.x) swallows a failing global setup and exits 0 with no tests run: fail loudly instead.
    console.error('test global setup failed:', error);
    process.exit(1);
  }
}

async function setup() {
  dataDir = await mkdtemp(join(tmpdir(), 'headroom-test-pg-'));
  // As root, PostgreSQL runs as the "postgres" user, which must be able to traverse into the cluster dir.
  await chmod(dataDir, 0o711);
  // pg_stat_statements and auto_explain loaded as casebook's embedded mode loads them (`headroom db top`).
  server = await startPostgres({
    dataDir: join(dataDir, 'pg'),
    ephemeral: true,
    // Room for every statement of the whole run, so no test's counts are evicted by another's.
    settings: {
      shared_preload_libraries: 'pg_stat_statements,auto_explain',
      'pg_stat_statements.max': 20000,
    },
  });
  await server.createDatabase(templateDatabase);
  const pool = new pg.Pool({ connectionString: server.url(templateDatabase), max: 1 });
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await migrate(pool);
  } finally {
    await pool.end();
  }
  process.env.HEADROOM_TEST_PG_URL = server.url('postgres');
  process.env.HEADROOM_TEST_PG_TEMPLATE = templateDatabase;
}

export async function globalTeardown() {
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}
