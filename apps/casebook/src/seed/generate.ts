// Builds a deterministic multi-tenant dataset with COPY: the same options give the same rows on every machine.

import type pg from 'pg';
import { hashPassword } from '../auth/passwords.ts';
import { copyLines, deferIndexes, resetIdentities } from './copy.ts';
import { profiles } from './profiles.ts';
import { Random } from './random.ts';
import { lines, planDataset } from './rows.ts';

export interface SeedOptions {
  /** Tenants; the first three are always acme (enterprise), globex (pro), initech (free). @default 3 */
  tenants?: number;
  /** Users per tenant, the two demo logins (admin@, analyst@) included; at least 2. @default 20 */
  usersPerTenant?: number;
  /** Cases across all tenants; acme gets half, globex 30%, initech 20% (further tenants less). @default 20_000 */
  cases?: number;
  /** Timeline events across all cases. @default 200_000 */
  events?: number;
  /** Comments across all cases. @default 60_000 */
  comments?: number;
  /** Entities (people, organisations, accounts, devices, addresses, IPs). @default 5_000 */
  entities?: number;
  /** Case ↔ entity links; fewer when a tenant runs out of distinct pairs. @default 40_000 */
  links?: number;
  /** Seed of the random source (0 to 2^32 - 1): the same options and seed give the same rows. @default 1 */
  seed?: number;
  /** Return `{ skipped: true }` instead of throwing when the database already has tenants. @default false */
  ifEmpty?: boolean;
  /** Called after each table is loaded. */
  onProgress?: (table: string, rows: number) => void;
}

export interface SeedReport {
  /** True when `ifEmpty` was set and the database already had tenants: nothing was written. */
  skipped: boolean;
  /** Rows written per table. */
  rows: Record<string, number>;
  /** Wall time, index builds and ANALYZE included. */
  seconds: number;
  rowsPerSecond: number;
}

/**
 * The password of every demo login (admin@ and analyst@ of each tenant); other seeded users cannot log in.
 *
 * @example
 * await login({ email: 'analyst@acme.test', password: demoPassword });
 */
export const demoPassword = 'headroom-demo';
/** Tables the generator fills, in load order (parents first). */
const tables = [
  'tenants',
  'orgs',
  'teams',
  'users',
  'cases',
  'entities',
  'case_entities',
  'events',
  'comments',
];
/**
 * Emptied too: they refer to users or tenants, so TRUNCATE must name them (they are empty when tenants is). The
 * webhook tables name tenants by id without a foreign key: a new seed's tenant must not inherit them.
 */
const alsoEmptied = [
  'sessions',
  'api_keys',
  'exports',
  'export_chunks',
  'headroom.webhook_attempts',
  'headroom.webhook_deliveries',
  'headroom.webhook_events',
  'headroom.webhook_endpoints',
];
/** Any constant; keeps two processes (say, two instances starting at once) from seeding together. */
const lockKey = 0x7365_6564;

/**
 * Seeds casebook's tables in one transaction: refuses (or, with `ifEmpty`, skips) a database that already has
 * tenants; otherwise COPYs every table with ids assigned here, rebuilds indexes and foreign keys, ANALYZEs
 * and moves the identity sequences past the seeded ids.
 *
 * @example
 * const report = await seed(pool, { ...profiles.demo, ifEmpty: true });
 * console.log(report.rows.events, report.rowsPerSecond);
 */
export async function seed(pool: pg.Pool, options: SeedOptions = {}): Promise<SeedReport> {
  const o = resolve(options);
  const started = performance.now();
  const written: Record<string, number> = {};
  const client = await pool.connect();
  // A connection lost mid-seed (the server stopping, say) fails the pending query; the 'error' event the
  // client also emits must not crash the process, and the broken client must not go back to the pool.
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [lockKey]);
    const hasTenants = async () => (await client.query('SELECT 1 FROM tenants LIMIT 1')).rows.length > 0;
    // Only an empty database is locked (SHARE blocks inserts until we commit), so a restart against a live
    // database takes no table lock; the second look sees anything committed before the lock.
    if (!(await hasTenants())) await client.query('LOCK TABLE tenants IN SHARE MODE');
    if (await hasTenants()) {
      await client.query('ROLLBACK');
      if (o.ifEmpty) return { skipped: true, rows: {}, seconds: 0, rowsPerSecond: 0 };
      throw new Error('the database already has tenants: seed an empty database (the CLI has --reset)');
    }
    // Truncating in this transaction lets COPY load frozen rows (see CopyOptions.freeze).
    await client.query(`TRUNCATE ${[...tables, ...alsoEmptied].join(', ')}`);
    const deferred = await deferIndexes(client, tables);
    const hashing = hashPassword(demoPassword); // once for all demo logins: scrypt is slow on purpose
    const plan = planDataset(o);
    const passwordHash = await hashing;
    const load = async (table: string, columns: string, rows: Iterable<string>) => {
      const n = await copyLines(client, table, columns.split(', '), rows, { freeze: true });
      written[table] = n;
      o.onProgress?.(table, n);
    };
    const stream = (n: number) => new Random(o.seed, n);
    await load('tenants', 'id, slug, name, tier, created_at', lines.tenants(plan));
    await load('orgs', 'id, tenant_id, name', lines.orgs(plan));
    await load('teams', 'id, tenant_id, org_id, name', lines.teams(plan));
    await load(
      'users',
      'id, tenant_id, team_id, email, name, role, password_hash, created_at',
      lines.users(plan, stream(1), passwordHash),
    );
    await load(
      'cases',
      'id, tenant_id, title, description, status, priority, owner_id, version, created_at, updated_at',
      lines.cases(plan, stream(2)),
    );
    await load(
      'entities',
      'id, tenant_id, kind, name, attributes, created_at',
      lines.entities(plan, stream(3)),
    );
    await load(
      'case_entities',
      'tenant_id, case_id, entity_id, role, created_at',
      lines.links(plan, stream(4), o.links),
    );
    await load(
      'events',
      'id, tenant_id, case_id, kind, summary, actor_id, occurred_at',
      lines.events(plan, stream(5), o.events),
    );
    await load(
      'comments',
      'id, tenant_id, case_id, author_id, body, created_at',
      lines.comments(plan, stream(6), o.comments),
    );
    await deferred.restore();
    await resetIdentities(
      client,
      tables.filter((t) => t !== 'case_entities'),
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
  const seconds = (performance.now() - started) / 1000;
  const total = Object.values(written).reduce((a, b) => a + b, 0);
  return { skipped: false, rows: written, seconds, rowsPerSecond: total / seconds };
}

type Resolved = Required<Omit<SeedOptions, 'onProgress'>> & Pick<SeedOptions, 'onProgress'>;

/** Defaults from the demo profile; a bad count throws naming the option. */
function resolve(options: SeedOptions): Resolved {
  const o: Resolved = { ...profiles.demo, seed: 1, ifEmpty: false, ...options };
  const counts = ['tenants', 'usersPerTenant', 'cases', 'events', 'comments', 'entities', 'links'] as const;
  for (const name of counts) {
    if (!Number.isSafeInteger(o[name]) || o[name] < 0) {
      throw new Error(`seed option ${name} must be a whole number, got ${o[name]}`);
    }
  }
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffff_ffff)
    throw new Error(`seed option seed must be an integer from 0 to 4294967295, got ${o.seed}`);
  if (o.tenants < 1) throw new Error('seed option tenants must be at least 1');
  if (o.usersPerTenant < 2)
    throw new Error('seed option usersPerTenant must be at least 2 (the demo logins)');
  if (o.cases === 0 && o.events + o.comments + o.links > 0)
    throw new Error('seed option cases must be at least 1 when there are events, comments or links');
  return o;
}
