// `npm start`: PostgreSQL (embedded unless DATABASE_URL), migrations, demo data on first start, then HTTP.
// Only this file listens and handles signals; everything else is built by buildApp.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCache } from '@headroom/core/cache';
import { createRedisClients, redisBus, redisStore } from '@headroom/core/cache/redis';
import { systemClock } from '@headroom/core/clock';
import { redisRateLimitStore } from '@headroom/core/ratelimit/redis';
import { loadSpec, prometheusSource } from '@headroom/core/slo';
import { type PostgresServer, startPostgres } from '@headroom/dev-servers/postgres';
import { createSimulator } from '@headroom/enrichment-sim';
import { traceLogFields } from '@headroom/fastify';
import { startTracing } from '@headroom/fastify/otel';
import pg from 'pg';
import { pino } from 'pino';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { migrate } from './db/migrate.ts';
import { applyRoleLimits, databasePool } from './db/pool.ts';
import { createLimits } from './protection/limits.ts';
import { profiles, seedInWorker } from './seed/index.ts';
import { loadSettings } from './settings.ts';
import { enrichmentClient } from './suggestions/enrichment-client.ts';

const startedAt = performance.now();
const config = loadConfig();
const spec = await loadSpec(join(import.meta.dirname, '..', 'headroom.yaml'));
// Traces when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER) says where to: see @headroom/fastify/otel.
const tracing = await startTracing({ spec });
// Log lines written inside a traced request carry its trace_id and span_id.
const logger = pino({ level: config.logLevel, mixin: traceLogFields });
const commit = config.commit !== 'unknown' ? config.commit : gitCommit();

let embedded: PostgresServer | undefined;
let databaseUrl = config.databaseUrl;
if (!databaseUrl) {
  embedded = await startPostgres({
    dataDir: join(config.dataDir, 'postgres'),
    onLog: (line) => logger.debug({ postgres: line }),
    onNotice: (message) => logger.info(message),
    // The statistics `headroom db top` ranks (planning time too: behind a transaction pooler every statement is
    // planned afresh), and the plan of any statement slower than DB_SLOW_PLAN_MS in the server's log (auto_explain).
    settings: {
      shared_preload_libraries: 'pg_stat_statements,auto_explain',
      'pg_stat_statements.track_planning': 'on',
      'auto_explain.log_min_duration': config.slowPlanMs,
      'auto_explain.log_format': 'json',
    },
  });
  await ensureDatabase(embedded, 'casebook');
  databaseUrl = embedded.url('casebook');
  logger.info({ dataDir: embedded.dataDir, port: embedded.port }, 'embedded PostgreSQL started');
}
// Behind a transaction pooler, what needs one session throughout goes straight to PostgreSQL (config.ts).
const pooler = config.databaseDirectUrl !== undefined;
const directUrl = config.databaseDirectUrl ?? databaseUrl;

// Every call bounded (db/pool.ts): a stalled or absent database answers 503 within the bounds, never hangs.
const pool = databasePool(databaseUrl, config.database, { pooler });
pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection failed'));
// No upstream configured: run the enrichment simulator in this process, on its own port.
const simulator = config.enrichmentUrl ? undefined : createSimulator();
const enrichmentUrl =
  config.enrichmentUrl ?? (await simulator!.listen({ port: config.enrichmentSimPort, host: '127.0.0.1' }));
const enrichment = enrichmentClient(enrichmentUrl);

// Scaled mode: bounded command timeouts and no offline queue, so a dead Redis costs milliseconds, not hangs.
let redisErrors = 0;
const redis = config.redisUrl
  ? createRedisClients(config.redisUrl, {
      onError: (error) => {
        if (redisErrors++ % 100 === 0) logger.warn({ err: error.message }, 'redis connection error');
      },
    })
  : undefined;
await redis
  ?.ready()
  .catch((error) => logger.warn({ err: error.message }, 'redis not reachable yet; using local stores'));
const clock = systemClock();
// casebook.yaml, watched: what an operator tunes applies without a restart (settings.ts).
const settings = await loadSettings({ dir: config.configDir, clock, env: process.env });
logger.info({ file: settings.file, version: settings.version }, 'config loaded');
const limits = createLimits({
  clock,
  tiers: () => settings.get().tiers,
  instances: config.instances,
  scale: config.quotaScale,
  door: config.overloadLimit === 'off' ? false : config.overloadLimit === 'latency' ? 'latency' : true,
  doorSaturation: config.overloadSaturation,
  ...(redis ? { store: redisRateLimitStore(redis.client) } : {}),
});
const cache = createCache({
  name: 'casebook',
  clock,
  ...(redis
    ? {
        l2: redisStore({ client: redis.client }),
        bus: redisBus({ client: redis.client, subscriber: redis.subscriber }),
      }
    : {}),
});
// Start-up work (migrations, demo data) runs after listen: until it is done, readiness is 503 and /v1 answers
// 503 with Retry-After, rather than holding requests on tables being loaded.
let startupDone!: () => void;
let startupFailed!: (error: unknown) => void;
const startup = new Promise<void>((resolve, reject) => {
  startupDone = resolve;
  startupFailed = reject;
});
const operatorToken = config.operatorToken ?? (await localOperatorToken(config.dataDir));
const app = await buildApp({
  pool,
  pooler,
  startup,
  operatorToken,
  ...(config.opsSecret ? { opsSecret: config.opsSecret } : {}),
  connection: config.connection,
  databaseDeadlines: {
    ...(config.database.queryTimeout === undefined ? {} : { max: config.database.queryTimeout }),
  },
  logger,
  spec,
  ...(tracing ? { tracing } : {}),
  version: config.version,
  commit,
  clock,
  settings,
  ...(config.degraderPrometheus
    ? { degraderSource: prometheusSource({ ...config.degraderPrometheus, clock }) }
    : {}),
  limits,
  cache,
  enrichment,
  readCache: config.readCache,
  ...(redis ? { redis: redis.client } : {}),
  webhooks: {
    allowedHosts: config.webhookAllowedHosts,
    workers: config.webhookWorkers,
    lease: config.webhookLease,
  },
  // The job queue's LISTEN: a connection of its own, straight to PostgreSQL.
  listen: async () => {
    const client = new pg.Client({ connectionString: directUrl });
    client.on('error', (error) => logger.warn({ err: error }, 'job queue LISTEN connection failed'));
    await client.connect();
    return client;
  },
});

// SIGTERM or SIGINT: readiness 503 at once, serving on for SHUTDOWN_DELAY_MS, then the drain and the app's own
// close (job workers finish or give their jobs back), then these in order; a second signal exits 1 at once.
app.headroom.shutdown({
  delay: config.shutdownDelay,
  ...(config.shutdownDeadline === undefined ? {} : { deadline: config.shutdownDeadline }),
  steps: [
    { name: 'database pool', run: () => pool.end() },
    { name: 'enrichment client', run: () => enrichment.close() },
    { name: 'enrichment simulator', run: () => simulator?.close() },
    { name: 'redis', run: () => redis?.quit() },
    { name: 'embedded postgresql', run: () => embedded?.stop() },
    { name: 'traces', run: () => tracing?.shutdown() },
  ],
});

await app.listen({ port: config.port, host: config.host });
try {
  // Migrations hold a session lock and may run outside a transaction: one direct connection, closed after.
  const direct = new pg.Pool({ connectionString: directUrl, max: 1 });
  try {
    // First: server connections PgBouncer opens from now on carry the bounds (the defaults persist in the
    // database, so only a first start has a moment without them).
    if (pooler) await applyRoleLimits(direct, config.database);
    const { applied } = await migrate(direct, {
      onRetry: (retry) => logger.warn(retry, 'migration waited too long for a lock; retrying'),
    });
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    if (embedded) await direct.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  } finally {
    await direct.end();
  }
  const profile = profiles[config.seedProfile as keyof typeof profiles];
  if (!profile) throw new Error(`SEED_PROFILE must be one of ${Object.keys(profiles).join(', ')}`);
  const report = await seedInWorker(directUrl, { ...profile, ifEmpty: true });
  if (!report.skipped) logger.info({ rows: report.rows, seconds: report.seconds }, 'demo data seeded');
  startupDone();
} catch (error) {
  startupFailed(error);
  throw error;
}

const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.port;
const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
process.stdout.write(
  [
    '',
    `casebook is ready at http://${config.host}:${port} (${seconds} s)`,
    `  enrichment upstream: ${enrichmentUrl}${simulator ? ' (simulator; PUT /_control to make it slow or fail)' : ''}`,
    `  stores: ${redis ? `Redis at ${config.redisUrl}` : 'in-process (set REDIS_URL to share them)'}`,
    `  operator token (/metrics, /admin): ${config.operatorToken ? 'OPERATOR_TOKEN' : join(config.dataDir, 'operator-token')}`,
    '',
    'Demo logins (password: headroom-demo):',
    '  admin@acme.test     analyst@acme.test     (acme, enterprise)',
    '  admin@globex.test   analyst@globex.test   (globex, pro)',
    '  admin@initech.test  analyst@initech.test  (initech, free)',
    '',
    `Try: curl -s http://${config.host}:${port}/v1/auth/login -H 'content-type: application/json' \\`,
    `       -d '{"email":"analyst@acme.test","password":"headroom-demo"}'`,
    '',
  ].join('\n'),
);

async function ensureDatabase(server: PostgresServer, name: string) {
  const client = new pg.Client({ connectionString: server.url('postgres') });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

// Without OPERATOR_TOKEN, a random token kept in the data directory (owner-only), so a local Prometheus can
// read it as a bearer token file and it survives restarts.
async function localOperatorToken(dataDir: string): Promise<string> {
  const file = join(dataDir, 'operator-token');
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim().length >= 16) return existing.trim();
  const token = `hro_${randomBytes(32).toString('base64url')}`;
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}
