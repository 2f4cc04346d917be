// `npm run db:plans`: `headroom db plans` for casebook as CI runs it, on a throw-away PostgreSQL with the bench
// dataset (100k cases, 2M events; seed 1): every statement of apps/casebook/db/queries.json explained and
// checked against apps/casebook/db/plans.json. Arguments go to `headroom db plans`:
//   npm run db:plans                 check (exit 1 on a regression)
//   npm run db:plans -- --update     write the snapshot after a deliberate change (review the diff)
// With DATABASE_URL set, that database is used as it is (no seeding).

import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PostgresServer, startPostgres } from '@headroom/dev-servers/postgres';
import pg from 'pg';
import { migrate } from '../src/db/migrate.ts';
import { profiles, seed } from '../src/seed/index.ts';

const root = join(import.meta.dirname, '..', '..', '..');
let server: PostgresServer | undefined;
let dir: string | undefined;
let url = process.env.DATABASE_URL;
let status = 1;
try {
  if (!url) {
    dir = await mkdtemp(join(tmpdir(), 'headroom-db-plans-'));
    await chmod(dir, 0o711);
    server = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
    await server.createDatabase('casebook');
    url = server.url('casebook');
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      await migrate(pool);
      const report = await seed(pool, profiles.bench);
      const rows = Object.values(report.rows).reduce((a, b) => a + b, 0);
      console.log(`bench dataset: ${rows.toLocaleString('en')} rows in ${report.seconds.toFixed(1)} s`);
    } finally {
      await pool.end();
    }
  }
  const args = [join(root, 'packages/cli/src/bin.ts'), 'db', 'plans', '--database-url', url];
  args.push('--queries', join(root, 'apps/casebook/db/queries.json'));
  args.push('--snapshot', join(root, 'apps/casebook/db/plans.json'), ...process.argv.slice(2));
  status = spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
} finally {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}
process.exitCode = status;
