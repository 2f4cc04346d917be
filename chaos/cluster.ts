// Casebook in scaled mode on this machine, for the chaos drills: one PostgreSQL (migrated and seeded once), one
// redis-server, the enrichment simulator, two casebook server.ts processes sharing them, and a real nginx that
// sends requests to both in turn. Everything listens on 127.0.0.1; stop() ends every process, even after a
// failed start.

import { chmod, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx } from '@headroom/dev-servers/nginx';
import { type PgBouncerServer, startPgBouncer } from '@headroom/dev-servers/pgbouncer';
import { type PostgresServer, startPostgres } from '@headroom/dev-servers/postgres';
import { type RedisServer, startRedis } from '@headroom/dev-servers/redis';
import pg from 'pg';
import {
  benchOperatorToken,
  demoLogin,
  operatorHeaders,
  type Started,
  startNode,
} from '../bench/lib/process.ts';

const repo = join(import.meta.dirname, '..');

/**
 * Loopback addresses the instances may send webhooks to (`WEBHOOK_ALLOWED_HOSTS`, any port): a drill's receivers
 * listen there. Casebook refuses loopback webhook URLs otherwise.
 */
export const webhookReceiverHosts = ['127.0.0.2', '127.0.0.3'] as const;

export interface Instance {
  name: string;
  /** `http://127.0.0.1:<port>` of this process. */
  url: string;
  process: Started;
  /** Error-level log lines (pino level 50 and up) so far, the latest 200. */
  errors: string[];
}

export interface Cluster {
  /** nginx in front of both instances (round robin): where the load goes. */
  url: string;
  instances: [Instance, Instance];
  postgres: PostgresServer;
  /** PgBouncer (transaction mode) between the instances and PostgreSQL, when started with `pooler`. */
  pgbouncer?: PgBouncerServer;
  redis: RedisServer;
  /** The enrichment simulator's URL: `PUT <url>/_control` sets its latency and failures while it runs. */
  simulator: string;
  /** Straight to casebook's database, for the drills' checks. */
  pool: pg.Pool;
  /** casebook.yaml's directory (CONFIG_DIR) for both instances, a copy of the shipped one: a drill may rewrite it. */
  configDir: string;
  /** Headers that authenticate as the operator (`/metrics`, `/admin/*`). */
  operatorHeaders: Record<string, string>;
  /** Ids of the `acme` tenant's cases, oldest first. */
  caseIds: number[];
  /** Signs in as a demo login (through nginx) and returns the bearer token. */
  login(email?: string): Promise<string>;
  /**
   * A deploy of one instance: SIGTERMs it (unless a signal was sent already), waits for it to exit, then starts
   * a new server.ts on the same port (nginx names fixed ports) with `env` over the cluster's. The `Instance` is
   * updated in place and returned.
   */
  replaceInstance(name: string, env?: Record<string, string>): Promise<Instance>;
  /**
   * A crash of one instance: SIGKILLs it (no shutdown hook runs, no job is given back) and resolves once it has
   * exited. `replaceInstance` then starts its successor without another signal.
   */
  killInstance(name: string): Promise<void>;
  /** nginx's access log so far: `<status> <cache status> "<request line>" <upstream address>` a line. */
  accessLog(): Promise<string>;
  stop(): Promise<void>;
}

/** An instance's /metrics text, read as the operator. */
export async function metricsOf(cluster: Cluster, instance: Instance): Promise<string> {
  const res = await fetch(`${instance.url}/metrics`, { headers: cluster.operatorHeaders });
  if (res.status !== 200) throw new Error(`GET /metrics on ${instance.name} answered ${res.status}`);
  return res.text();
}

export interface ClusterOptions {
  /** The dataset: `test` (300 cases a tenant, seeded in a second) or `demo`. @default 'demo' */
  seedProfile?: 'test' | 'demo';
  /**
   * A real PgBouncer in transaction mode in front of PostgreSQL, as scaled mode runs behind one: the instances
   * get DATABASE_URL through it and DATABASE_DIRECT_URL straight to PostgreSQL (docs/database.md). @default false
   */
  pooler?: boolean;
  /** Progress lines. @default ignore them */
  log?: (line: string) => void;
}

/**
 * Starts the cluster; on a failure part-way, stops what had started and rethrows.
 *
 * @example
 * const cluster = await startCluster();
 * try { await drill.run(cluster, { short: true }); } finally { await cluster.stop(); }
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const log = options.log ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), 'headroom-chaos-'));
  await chmod(dir, 0o711); // as root, PostgreSQL runs as "postgres" and must traverse it
  const stops: (() => Promise<unknown>)[] = [() => rm(dir, { recursive: true, force: true })];
  const stopAll = async () => {
    // Last started, first stopped: nginx, casebook, then what casebook uses.
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
  };
  try {
    const postgres = await startPostgres({ dataDir: join(dir, 'pg'), ephemeral: true });
    stops.push(() => postgres.stop());
    await postgres.createDatabase('casebook');
    const { host, port, user, password } = postgres;
    const pgbouncer = options.pooler
      ? await startPgBouncer({ upstream: { host, port, user, password }, poolMode: 'transaction' })
      : undefined;
    if (pgbouncer) {
      stops.push(() => pgbouncer.close());
      log(`pgbouncer :${pgbouncer.port} (transaction mode) → postgresql :${port}`);
    }
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const simulator = await startNode(join(repo, 'apps/enrichment-sim/src/server.ts'), {
      env: { PORT: '0' },
      ready: /enrichment simulator at (http:\/\/\S+)/,
      timeoutMs: 30_000,
    });
    stops.push(() => stopWithin(simulator, 5_000));
    log(`postgresql :${postgres.port}, redis-server :${redis.port}, enrichment simulator ${simulator.match}`);
    const configDir = join(dir, 'config');
    await cp(join(repo, 'apps/casebook/config'), configDir, { recursive: true });

    const env = {
      DATABASE_URL: (pgbouncer ?? postgres).url('casebook'),
      ...(pgbouncer ? { DATABASE_DIRECT_URL: postgres.url('casebook') } : {}),
      REDIS_URL: redis.url,
      ENRICHMENT_URL: simulator.match!,
      INSTANCES: '2',
      // The drills are about faults, not tenant quotas: quotas × 1000 keep 429s for what the drills provoke.
      QUOTA_SCALE: '1000',
      OPERATOR_TOKEN: benchOperatorToken,
      OPS_SECRET: 'chaos-ops-page-secret-not-a-secret-0123456789',
      SEED_PROFILE: options.seedProfile ?? 'demo',
      CONFIG_DIR: configDir,
      WEBHOOK_ALLOWED_HOSTS: webhookReceiverHosts.join(','),
      SHUTDOWN_DELAY_MS: '0',
      LOG_LEVEL: 'warn',
      // The door's saturation shed (off by default; apps/casebook/src/protection/limits.ts): the overload drill.
      OVERLOAD_SATURATION: 'on',
      PORT: '0',
      HOST: '127.0.0.1',
    };
    const instances: Instance[] = [];
    /** Starts casebook `name` with `more` over `env`, its error lines kept in `errors`. */
    const startInstance = async (name: string, errors: string[], more: Record<string, string> = {}) => {
      const started = performance.now();
      const process = await startNode(join(repo, 'apps/casebook/src/server.ts'), {
        env: { ...env, DATA_DIR: join(dir, `casebook-${name}`), ...more },
        ready: /casebook is ready at (http:\/\/\S+)/,
        timeoutMs: 180_000,
      });
      stops.push(() => stopWithin(process, 15_000));
      process.child.stdout?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (!/"level":(5|6)\d/.test(line)) continue;
          errors.push(line);
          if (errors.length > 200) errors.shift();
        }
      });
      log(
        `casebook ${name} ${process.match} ready in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
      return process;
    };
    // One after the other: the first migrates and seeds, the second finds it done.
    for (const name of ['a', 'b']) {
      const errors: string[] = [];
      const process = await startInstance(name, errors);
      instances.push({ name, url: process.match!, process, errors });
    }
    const nginx = await startNginx({
      http: ({ port }) => roundRobin(port, instances),
      // Room for the overload drill's connections, each proxied one holding two.
      workerConnections: 4096,
    });
    stops.push(() => nginx.stop());
    log(`nginx ${nginx.url} → ${instances.map((i) => i.url).join(', ')} (round robin)`);

    const pool = new pg.Pool({ connectionString: postgres.url('casebook'), max: 2 });
    // A drill stops the database: an idle client's broken connection is expected then, not a crash.
    pool.on('error', () => {});
    stops.push(() => pool.end());
    const { rows } = await pool.query<{ id: number }>(
      "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id LIMIT 200",
    );
    return {
      url: nginx.url,
      instances: instances as [Instance, Instance],
      postgres,
      ...(pgbouncer ? { pgbouncer } : {}),
      redis,
      simulator: simulator.match!,
      pool,
      configDir,
      operatorHeaders,
      caseIds: rows.map((row) => row.id),
      login: async (email = 'analyst@acme.test') =>
        (await demoLogin(nginx.url, email)).authorization.slice('Bearer '.length),
      replaceInstance: async (name, more = {}) => {
        const instance = instances.find((i) => i.name === name);
        if (!instance) throw new Error(`no casebook instance ${name}`);
        const { child } = instance.process;
        if (child.exitCode === null && child.signalCode === null) {
          // A second SIGTERM would make casebook exit 1 at once: one signal, then the wait.
          const exited = new Promise((resolve) => child.once('exit', resolve));
          if (!child.killed) child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
          await exited.finally(() => clearTimeout(timer));
        }
        instance.process = await startInstance(name, instance.errors, {
          PORT: new URL(instance.url).port,
          ...more,
        });
        return instance;
      },
      killInstance: async (name) => {
        const instance = instances.find((i) => i.name === name);
        if (!instance) throw new Error(`no casebook instance ${name}`);
        const { child } = instance.process;
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      },
      accessLog: () => nginx.accessLog(),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * nginx as a plain round-robin balancer with warm connections to both instances. No retry on the other
 * instance (`proxy_next_upstream off`) and no marking an instance down (`max_fails=0`): the drill sees what
 * each instance answered, not what a forgiving balancer made of it. Idle kept-alive connections are closed by
 * nginx after 1 s, under the deploy drill's shutdown delay (2 s): a connection idle since before an instance
 * began draining (whose answers then close their connections) is gone before the instance closes, instead of
 * being reused by nginx the moment the instance drops it (a 502 for a request sent in time). A balancer in
 * front of instances that drain should keep its upstream idle timeout under their shutdown delay.
 */
function roundRobin(port: number, instances: readonly Instance[]): string {
  const servers = instances.map((i) => `    server ${new URL(i.url).host} max_fails=0;`);
  return [
    '  upstream casebook {',
    ...servers,
    '    keepalive 64;',
    '    keepalive_timeout 1s;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    '      proxy_pass http://casebook;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_next_upstream off;',
    '      proxy_read_timeout 30s;',
    '    }',
    '  }',
  ].join('\n');
}

/** SIGTERM, then SIGKILL when the process has not exited within `ms`. */
async function stopWithin(process: Started, ms: number): Promise<void> {
  const timer = setTimeout(() => process.child.kill('SIGKILL'), ms);
  try {
    await process.stop();
  } finally {
    clearTimeout(timer);
  }
}
