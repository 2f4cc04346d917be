// `npm run seed -- [--profile demo|bench|test] [--tenants N --cases N --events N ...] [--reset]`: fills a
// casebook database with the deterministic dataset and prints how fast it went.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type PostgresServer, startPostgres } from '@headroom/dev-servers/postgres';
import pg from 'pg';
import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { type SeedOptions, seed } from './generate.ts';
import { isProfileName, profiles } from './profiles.ts';

const help = `Usage: npm run seed -- [options]

Fills a casebook database with a deterministic dataset (COPY) and prints rows/s.

  --profile NAME        demo (default: 20k cases, 200k events), bench (100k cases, 2M events) or test (tiny)
  --tenants N           tenants; the first three are acme (enterprise), globex (pro), initech (free)
  --users N             users per tenant (admin@<slug>.test and analyst@<slug>.test among them)
  --cases N             cases across all tenants
  --events N            timeline events
  --comments N          comments
  --entities N          entities
  --links N             case-entity links
  --seed N              random seed (default 1): the same options and seed give the same rows
  --reset               empty the casebook tables first (otherwise a database with tenants is refused)
  --database-url URL    the database (default: DATABASE_URL; without either, embedded PostgreSQL in
                        DATA_DIR/postgres, DATA_DIR defaulting to .data at the repository root)
  -h, --help            this text

Flags override the profile's numbers: npm run seed -- --profile bench --events 500000
`;
/** Flag name → seed option, for the counts. */
const counts = {
  tenants: 'tenants',
  users: 'usersPerTenant',
  cases: 'cases',
  events: 'events',
  comments: 'comments',
  entities: 'entities',
  links: 'links',
  seed: 'seed',
} as const satisfies Record<string, keyof SeedOptions>;
const allTables =
  'tenants, orgs, teams, users, sessions, api_keys, cases, entities, case_entities, events, comments, exports, export_chunks, ' +
  'headroom.webhook_attempts, headroom.webhook_deliveries, headroom.webhook_events, headroom.webhook_endpoints';

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...(Object.fromEntries(Object.keys(counts).map((k) => [k, { type: 'string' }])) as Record<
        keyof typeof counts,
        { type: 'string' }
      >),
      profile: { type: 'string', default: 'demo' },
      reset: { type: 'boolean', default: false },
      'database-url': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(help);
    return;
  }
  if (!isProfileName(values.profile)) {
    throw new Error(`--profile must be one of ${Object.keys(profiles).join(', ')}, got ${values.profile}`);
  }
  const options: SeedOptions = { ...profiles[values.profile] };
  for (const [flag, option] of Object.entries(counts)) {
    const text = values[flag as keyof typeof counts];
    if (text === undefined) continue;
    const n = Number(text.replaceAll('_', ''));
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${flag} must be a whole number, got ${text}`);
    options[option] = n;
  }

  const config = loadConfig();
  let embedded: PostgresServer | undefined;
  const stop = () => {
    // The embedded server runs in its own process group: Ctrl-C reaches only us, so we must stop it.
    void (embedded?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let url = values['database-url'] ?? config.databaseUrl;
  try {
    if (!url) {
      embedded = await startPostgres({ dataDir: join(config.dataDir, 'postgres') });
      await ensureDatabase(embedded, 'casebook');
      url = embedded.url('casebook');
      console.log(`embedded PostgreSQL in ${join(config.dataDir, 'postgres')}`);
    }
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      await migrate(pool);
      if (values.reset) await pool.query(`TRUNCATE ${allTables} RESTART IDENTITY CASCADE`);
      let last = performance.now();
      const report = await seed(pool, {
        ...options,
        onProgress(table, rows) {
          const now = performance.now();
          console.log(
            `  ${table.padEnd(14)} ${rows.toLocaleString('en').padStart(10)} rows  ${seconds(now - last)}`,
          );
          last = now;
        },
      });
      const total = Object.values(report.rows).reduce((a, b) => a + b, 0);
      console.log(
        `seeded ${total.toLocaleString('en')} rows in ${report.seconds.toFixed(1)} s: ` +
          `${Math.round(report.rowsPerSecond).toLocaleString('en')} rows/s (indexes, keys and ANALYZE included)`,
      );
    } finally {
      await pool.end();
    }
  } finally {
    await embedded?.stop();
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2).padStart(6)} s`;
}

async function ensureDatabase(server: PostgresServer, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.url('postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  // A message and its causes read better than a stack for a user-facing command.
  for (
    let e: unknown = error, prefix = 'seed: ';
    e;
    e = e instanceof Error ? e.cause : undefined, prefix = '  cause: '
  ) {
    console.error(`${prefix}${e instanceof Error ? e.message : String(e)}`);
  }
  process.exitCode = 1;
}
