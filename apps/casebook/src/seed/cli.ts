// `npm run seed -- [--profile demo|bench|test] [--tenants N --cases N --events N ...] [--reset]`

import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type PostgresServer, startPostgres } from '@headroom/dev-servers/postgres';
import pg from 'pg';
import { migrate } from '../db/migrate.ts';
import { seed } from './generate.ts';
import { type ProfileName, profiles } from './profiles.ts';

const help = `Usage: npm run seed -- [options]

Builds a deterministic casebook dataset with COPY and prints rows/s.

  --profile NAME        demo (default: 20k cases, 200k events), bench (100k, 2M) or test (tiny)
  --tenants N           tenants (the first three are acme, globex, initech)
  --users N             users per tenant
  --cases N             cases across all tenants
  --events N            timeline events
  --comments N          comments
  --entities N          entities
  --links N             case-entity links
  --seed N              random seed (default 1): same options + seed = same rows
  --reset               empty the casebook tables first
  --database-url URL    an external PostgreSQL (default: DATABASE_URL, else embedded in DATA_DIR)
  -h, --help            this text
`;

const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'demo' },
    tenants: { type: 'string' },
    users: { type: 'string' },
    cases: { type: 'string' },
    events: { type: 'string' },
    comments: { type: 'string' },
    entities: { type: 'string' },
    links: { type: 'string' },
    seed: { type: 'string' },
    reset: { type: 'boolean', default: false },
    'database-url': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(help);
  process.exit(0);
}

const profile = profiles[values.profile as ProfileName];
if (!profile) throw new Error(`--profile must be one of ${Object.keys(profiles).join(', ')}`);
const number = (name: keyof typeof values): number | undefined => {
  const text = values[name];
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got ${text}`);
  return n;
};
const options = Object.fromEntries(
  Object.entries({
    tenants: number('tenants'),
    usersPerTenant: number('users'),
    cases: number('cases'),
    events: number('events'),
    comments: number('comments'),
    entities: number('entities'),
    links: number('links'),
    seed: number('seed'),
  }).filter(([, v]) => v !== undefined),
);
if ((options.tenants ?? profile.tenants) < 3)
  throw new Error('--tenants must be at least 3 (the demo tenants)');

let embedded: PostgresServer | undefined;
let url = values['database-url'] ?? process.env.DATABASE_URL;
if (!url) {
  const dataDir = resolve(
    process.env.INIT_CWD ?? join(import.meta.dirname, '../../../..'),
    process.env.DATA_DIR ?? '.data',
  );
  embedded = await startPostgres({ dataDir: join(dataDir, 'postgres') });
  const admin = new pg.Client({ connectionString: embedded.url('postgres') });
  await admin.connect();
  if ((await admin.query("SELECT 1 FROM pg_database WHERE datname = 'casebook'")).rowCount === 0) {
    await admin.query('CREATE DATABASE casebook');
  }
  await admin.end();
  url = embedded.url('casebook');
  console.log(`embedded PostgreSQL in ${dataDir}`);
}

const pool = new pg.Pool({ connectionString: url, max: 2 });
try {
  await migrate(pool);
  if (values.reset) {
    await pool.query(
      'TRUNCATE tenants, orgs, teams, users, sessions, api_keys, cases, entities, case_entities, events, comments RESTART IDENTITY CASCADE',
    );
  }
  const report = await seed(pool, {
    ...profile,
    ...options,
    onProgress: (table, rows) => console.log(`  ${table.padEnd(14)} ${rows.toLocaleString('en')} rows`),
  });
  const total = Object.values(report.rows).reduce((a, b) => a + b, 0);
  console.log(
    `seeded ${total.toLocaleString('en')} rows in ${report.seconds.toFixed(1)} s ` +
      `(${Math.round(report.rowsPerSecond).toLocaleString('en')} rows/s, indexes and ANALYZE included)`,
  );
} finally {
  await pool.end();
  await embedded?.stop();
}
