// The only place in casebook that reads the environment (server.ts hands it on to settings.ts, for the
// variables that override casebook.yaml).

import { isAbsolute, join, resolve } from 'node:path';
import type { DatabaseLimits } from './db/pool.ts';
import { defaultSettingsDir } from './settings.ts';

export interface Config {
  port: number;
  host: string;
  /** Where the embedded PostgreSQL keeps its cluster (`<dataDir>/postgres`). */
  dataDir: string;
  /** An external PostgreSQL; when set, no embedded server is started. */
  databaseUrl: string | undefined;
  /**
   * `DATABASE_DIRECT_URL`: the same database without the pooler, when `DATABASE_URL` is a transaction pooler
   * (PgBouncer in transaction mode). Setting it says so: requests then go through the pooler with unnamed
   * statements and no session settings, while migrations, seeding and the job queue's LISTEN (which need one
   * session throughout) use this URL.
   */
  databaseDirectUrl: string | undefined;
  logLevel: string;
  /** Demo dataset seeded on first start. */
  seedProfile: string;
  version: string;
  commit: string;
  /** Redis for shared rate limits and cache (scaled mode); unset = in-process stores. */
  redisUrl: string | undefined;
  /** The enrichment upstream of suggestions; unset = start the simulator in-process. */
  enrichmentUrl: string | undefined;
  /** `WEBHOOK_ALLOWED_HOSTS`: `host` or `host:port` entries webhooks may go to whatever they resolve to. */
  webhookAllowedHosts: string[];
  /** `SHUTDOWN_DELAY_MS`: serving on after SIGTERM with readiness 503, before the listener closes. @default 5000 */
  shutdownDelay: number;
  /** `SHUTDOWN_DEADLINE_MS`: exit 1 this long after the first signal, whatever hangs. @default delay + drain + 15 s */
  shutdownDeadline: number | undefined;
  /** `WEBHOOK_WORKERS`: webhook attempts this process sends at once; 0 sends none (another process does). */
  webhookWorkers: number;
  /** `WEBHOOK_LEASE_MS`: how soon another process sends what a dead one was sending. @default 30_000 */
  webhookLease: number;
  /** Port of the in-process enrichment simulator (0 = any free port). */
  enrichmentSimPort: number;
  /** Casebook instances sharing Redis: each enforces its share of a quota while Redis is down. */
  instances: number;
  /** Multiplies every tenant and login quota (benches that measure throughput raise them). */
  quotaScale: number;
  /** `READ_CACHE=off`: reads go to PostgreSQL every time (for uncached baselines). */
  readCache: boolean;
  /** `DB_SLOW_PLAN_MS`: the embedded PostgreSQL logs the plan of any statement slower than this (auto_explain). @default 250 */
  slowPlanMs: number;
  /**
   * `OVERLOAD_LIMIT`: `on` (the default), `off` (no adaptive limit at the door) or `latency` (the limit without its
   * event-loop guard, shrinking on latency alone): benches compare with the last two.
   */
  overloadLimit: 'on' | 'off' | 'latency';
  /**
   * `OVERLOAD_SATURATION=on`: the door also refuses everything while requests pile up at a saturated event loop
   * (limits.ts, `doorSaturation`). Off by default.
   */
  overloadSaturation: boolean;
  /** Bearer token of operators (`/metrics`, process-wide admin); unset = read or made in `<dataDir>/operator-token`. */
  operatorToken: string | undefined;
  /** `OPS_SECRET`: the key of the operations page's sessions, the same on every instance; unset = one per process. */
  opsSecret: string | undefined;
  /** Connection timeouts; unset ones keep @headroom/fastify's defaults (10 s headers, 30 s request, 72 s keep-alive). */
  connection: { headersTimeout?: number; requestTimeout?: number; keepAliveTimeout?: number };
  /** Bounds of every database call; unset ones keep db/pool.ts's defaults (1 s acquire, 2 s statement, 3 s answer). */
  database: Partial<DatabaseLimits>;
  /**
   * `DEGRADER_PROMETHEUS_URL` (and `DEGRADER_PROMETHEUS_SELECTOR`, label matchers such as `job="casebook"`): the
   * degrader judges the fleet's answers from Prometheus instead of this process's. @default unset: this process's
   */
  degraderPrometheus: { url: string; selector: string } | undefined;
  /** `CONFIG_DIR`: the directory of casebook.yaml, the hot-reloaded settings. @default apps/casebook/config */
  configDir: string;
}

const repoRoot = join(import.meta.dirname, '..', '..', '..');

/** Reads and checks the environment; a bad value throws naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`PORT must be a TCP port, got ${env.PORT}`);
  const dataDir = env.DATA_DIR ?? '.data';
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(env.INIT_CWD ?? repoRoot, dataDir),
    databaseUrl: env.DATABASE_URL || undefined,
    databaseDirectUrl: env.DATABASE_DIRECT_URL || undefined,
    logLevel: env.LOG_LEVEL ?? 'info',
    seedProfile: env.SEED_PROFILE ?? 'demo',
    version: env.npm_package_version ?? '0.1.0',
    commit: env.GIT_COMMIT ?? 'unknown',
    redisUrl: env.REDIS_URL || undefined,
    enrichmentUrl: env.ENRICHMENT_URL || undefined,
    webhookAllowedHosts: (env.WEBHOOK_ALLOWED_HOSTS ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
    webhookWorkers: integer(env, 'WEBHOOK_WORKERS', 64),
    shutdownDelay: integer(env, 'SHUTDOWN_DELAY_MS', 5_000),
    shutdownDeadline: env.SHUTDOWN_DEADLINE_MS ? integer(env, 'SHUTDOWN_DEADLINE_MS', 0, 1) : undefined,
    webhookLease: integer(env, 'WEBHOOK_LEASE_MS', 30_000, 3),
    enrichmentSimPort: integer(env, 'ENRICHMENT_SIM_PORT', 0),
    instances: integer(env, 'INSTANCES', 1, 1),
    quotaScale: integer(env, 'QUOTA_SCALE', 1, 1),
    readCache: env.READ_CACHE !== 'off',
    slowPlanMs: integer(env, 'DB_SLOW_PLAN_MS', 250),
    overloadLimit:
      env.OVERLOAD_LIMIT === 'off' || env.OVERLOAD_LIMIT === 'latency' ? env.OVERLOAD_LIMIT : 'on',
    overloadSaturation: env.OVERLOAD_SATURATION === 'on',
    operatorToken: env.OPERATOR_TOKEN || undefined,
    opsSecret: env.OPS_SECRET || undefined,
    connection: {
      ...optionalInteger(env, 'HEADERS_TIMEOUT_MS', 'headersTimeout'),
      ...optionalInteger(env, 'REQUEST_TIMEOUT_MS', 'requestTimeout'),
      ...optionalInteger(env, 'KEEP_ALIVE_TIMEOUT_MS', 'keepAliveTimeout'),
    },
    database: {
      ...optionalInteger(env, 'DB_POOL_MAX', 'max'),
      ...optionalInteger(env, 'DB_ACQUIRE_TIMEOUT_MS', 'acquireTimeout'),
      ...optionalInteger(env, 'DB_STATEMENT_TIMEOUT_MS', 'statementTimeout'),
      ...optionalInteger(env, 'DB_QUERY_TIMEOUT_MS', 'queryTimeout'),
    },
    degraderPrometheus: env.DEGRADER_PROMETHEUS_URL
      ? { url: env.DEGRADER_PROMETHEUS_URL, selector: env.DEGRADER_PROMETHEUS_SELECTOR ?? '' }
      : undefined,
    configDir: env.CONFIG_DIR ? resolve(env.INIT_CWD ?? repoRoot, env.CONFIG_DIR) : defaultSettingsDir,
  };
}

function optionalInteger<K extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  key: K,
): Partial<Record<K, number>> {
  const raw = env[name];
  if (raw === undefined || raw === '') return {};
  return { [key]: integer(env, name, 0, 1) } as Partial<Record<K, number>>;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return value;
}
