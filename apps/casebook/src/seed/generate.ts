// Builds a deterministic multi-tenant dataset with COPY: the same options give the same rows everywhere.

import type pg from 'pg';
import { hashPassword } from '../auth/passwords.ts';
import { copyRows } from './copy.ts';
import { profiles } from './profiles.ts';
import { Random } from './random.ts';
import * as words from './vocabulary.ts';

export interface SeedOptions {
  /** Tenants; the first three are always acme (enterprise), globex (pro), initech (free). @default 3 */
  tenants?: number;
  /** Users per tenant, the two demo logins included. @default 20 */
  usersPerTenant?: number;
  /** Cases across all tenants. @default 20_000 */
  cases?: number;
  /** Timeline events across all cases. @default 200_000 */
  events?: number;
  comments?: number;
  entities?: number;
  /** Case ↔ entity links. */
  links?: number;
  /** Seed of the random source. @default 1 */
  seed?: number;
  /** Return `{ skipped: true }` instead of throwing when the database already has tenants. */
  ifEmpty?: boolean;
  onProgress?: (table: string, rows: number) => void;
}

export interface SeedReport {
  skipped: boolean;
  rows: Record<string, number>;
  seconds: number;
  rowsPerSecond: number;
}

/** The instant the dataset ends at; everything happened in the year before it. */
export const seedBaseTime = Date.parse('2026-06-01T00:00:00Z');
const year = 365 * 24 * 60 * 60 * 1000;
const demoTenants = [
  { slug: 'acme', name: 'Acme Corporation', tier: 'enterprise', weight: 5 },
  { slug: 'globex', name: 'Globex', tier: 'pro', weight: 3 },
  { slug: 'initech', name: 'Initech', tier: 'free', weight: 2 },
] as const;
const tiers = ['free', 'pro', 'enterprise'] as const;

/**
 * Seeds casebook's tables in one transaction, then ANALYZEs them.
 *
 * @example
 * const report = await seed(pool, { ...profiles.demo, ifEmpty: true });
 */
export async function seed(pool: pg.Pool, options: SeedOptions = {}): Promise<SeedReport> {
  const o = { ...profiles.demo, seed: 1, ...options };
  const started = performance.now();
  const client = await pool.connect();
  const rows: Record<string, number> = {};
  const count = (table: string, n: number) => {
    rows[table] = n;
    o.onProgress?.(table, n);
  };
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(7364101)');
    const existing = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM tenants')).rows[0]!.n;
    if (existing > 0) {
      await client.query('ROLLBACK');
      if (o.ifEmpty) return { skipped: true, rows, seconds: 0, rowsPerSecond: 0 };
      throw new Error('the database already has tenants: seed an empty database (or use --reset)');
    }
    // Bulk load without per-row foreign-key triggers when allowed (the generator keeps every reference
    // inside its tenant; the seed test checks it). Needs superuser, as pg_dump's --disable-triggers does.
    const superuser = (
      await client.query<{ s: boolean }>('SELECT rolsuper AS s FROM pg_roles WHERE rolname = current_user')
    ).rows[0]?.s;
    if (superuser) await client.query('SET LOCAL session_replication_role = replica');

    const random = new Random(o.seed);
    const passwordHash = await hashPassword('headroom-demo');
    const tenants = Array.from({ length: o.tenants }, (_, i) =>
      i < demoTenants.length
        ? demoTenants[i]!
        : { slug: `tenant-${i + 1}`, name: `Tenant ${i + 1}`, tier: tiers[i % 3]!, weight: 1 },
    );
    count(
      'tenants',
      await copyRows(
        client,
        'tenants',
        ['id', 'slug', 'name', 'tier', 'created_at'],
        tenants.map((t, i) => [i + 1, t.slug, t.name, t.tier, new Date(seedBaseTime - year)]),
      ),
    );

    // Orgs → teams → users, small enough to hold in memory.
    const orgs: [number, number, string][] = [];
    const teams: [number, number, number, string][] = [];
    const users: [number, number, number, string, string, string, string | null, Date][] = [];
    const usersOf: [number, number][] = []; // [first id, last id] per tenant
    tenants.forEach((tenant, t) => {
      const tenantId = t + 1;
      const teamIds: number[] = [];
      for (const orgName of words.orgNames.slice(0, 2 + (t % 2))) {
        const orgId = orgs.length + 1;
        orgs.push([orgId, tenantId, orgName]);
        for (let k = 0; k < 3; k++) {
          const teamId = teams.length + 1;
          teams.push([teamId, tenantId, orgId, words.teamNames[(teamId + k) % words.teamNames.length]!]);
          teamIds.push(teamId);
        }
      }
      const first = users.length + 1;
      for (let u = 0; u < o.usersPerTenant; u++) {
        const id = users.length + 1;
        const person = `${random.pick(words.firstNames)} ${random.pick(words.lastNames)}`;
        const login = u === 0 ? 'admin' : u === 1 ? 'analyst' : null;
        const email = login ? `${login}@${tenant.slug}.test` : `user${id}@${tenant.slug}.test`;
        users.push([
          id,
          tenantId,
          teamIds[u % teamIds.length]!,
          email,
          person,
          u === 0 ? 'admin' : 'analyst',
          login ? passwordHash : null,
          new Date(seedBaseTime - year),
        ]);
      }
      usersOf.push([first, users.length]);
    });
    count('orgs', await copyRows(client, 'orgs', ['id', 'tenant_id', 'name'], orgs));
    count('teams', await copyRows(client, 'teams', ['id', 'tenant_id', 'org_id', 'name'], teams));
    count(
      'users',
      await copyRows(
        client,
        'users',
        ['id', 'tenant_id', 'team_id', 'email', 'name', 'role', 'password_hash', 'created_at'],
        users,
      ),
    );

    // Cases: split across tenants by weight; remembered compactly for the rows that refer to them.
    const totalWeight = tenants.reduce((sum, t) => sum + t.weight, 0);
    const caseTenant = new Int32Array(o.cases);
    const caseCreated = new Float64Array(o.cases);
    let next = 0;
    tenants.forEach((tenant, t) => {
      const share =
        t === tenants.length - 1 ? o.cases - next : Math.round((o.cases * tenant.weight) / totalWeight);
      caseTenant.fill(t + 1, next, next + share);
      next += share;
    });
    const actor = (tenantId: number) => {
      const [first, last] = usersOf[tenantId - 1]!;
      return random.int(first, last);
    };
    count(
      'cases',
      await copyRows(
        client,
        'cases',
        [
          'id',
          'tenant_id',
          'title',
          'description',
          'status',
          'priority',
          'owner_id',
          'version',
          'created_at',
          'updated_at',
        ],
        generateCases(random, caseTenant, caseCreated, actor),
      ),
    );

    // Entities per tenant in proportion to its cases; links pick an entity of the case's tenant.
    const entityTenant = new Int32Array(o.entities);
    for (let e = 0; e < o.entities; e++)
      entityTenant[e] = caseTenant[Math.floor((e * o.cases) / o.entities)]!;
    const entitiesOf = ranges(entityTenant, o.tenants);
    count(
      'entities',
      await copyRows(
        client,
        'entities',
        ['id', 'tenant_id', 'kind', 'name', 'attributes', 'created_at'],
        generateEntities(random, entityTenant),
      ),
    );
    count(
      'case_entities',
      await copyRows(
        client,
        'case_entities',
        ['tenant_id', 'case_id', 'entity_id', 'role', 'created_at'],
        generateLinks(random, o.links, caseTenant, caseCreated, entitiesOf),
      ),
    );

    const activity = (n: number) => (hot: boolean) =>
      hot ? random.int(0, Math.max(0, Math.floor(n / 20) - 1)) : random.int(0, n - 1);
    const pickCase = activity(o.cases);
    count(
      'events',
      await copyRows(
        client,
        'events',
        ['id', 'tenant_id', 'case_id', 'kind', 'summary', 'actor_id', 'occurred_at'],
        generateActivity(o.events, random, pickCase, caseCreated, (c, id) => {
          const [kind, summary] = random.pick(words.eventKinds);
          return [id, caseTenant[c]!, c + 1, kind, summary, actor(caseTenant[c]!)];
        }),
      ),
    );
    count(
      'comments',
      await copyRows(
        client,
        'comments',
        ['id', 'tenant_id', 'case_id', 'author_id', 'body', 'created_at'],
        generateActivity(o.comments, random, pickCase, caseCreated, (c, id) => [
          id,
          caseTenant[c]!,
          c + 1,
          actor(caseTenant[c]!),
          random.pick(words.commentBodies),
        ]),
      ),
    );

    for (const table of ['tenants', 'orgs', 'teams', 'users', 'cases', 'entities', 'events', 'comments']) {
      await client.query(
        `SELECT setval(pg_get_serial_sequence('${table}', 'id'), greatest((SELECT max(id) FROM ${table}), 1))`,
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  await pool.query('ANALYZE');
  const seconds = (performance.now() - started) / 1000;
  const total = Object.values(rows).reduce((a, b) => a + b, 0);
  return { skipped: false, rows, seconds, rowsPerSecond: total / seconds };
}

function* generateCases(
  random: Random,
  caseTenant: Int32Array,
  caseCreated: Float64Array,
  owner: (tenantId: number) => number,
) {
  for (let c = 0; c < caseTenant.length; c++) {
    const tenantId = caseTenant[c]!;
    const created = seedBaseTime - random.int(1, year / 1000) * 1000;
    caseCreated[c] = created;
    const title = `${random.pick(words.titleSubjects)} ${random.pick(words.titleContexts)} ${random.pick(words.places)}`;
    const description = [
      random.pick(words.descriptionSentences),
      random.pick(words.descriptionSentences),
    ].join(' ');
    const status = random.weighted([
      ['open', 4],
      ['investigating', 3],
      ['escalated', 1],
      ['closed', 4],
    ] as const);
    const priority = random.weighted([
      ['low', 3],
      ['medium', 4],
      ['high', 2],
      ['critical', 1],
    ] as const);
    const updated = Math.min(seedBaseTime, created + random.int(0, 30 * 86_400) * 1000);
    yield [
      c + 1,
      tenantId,
      title,
      description,
      status,
      priority,
      random.chance(0.05) ? null : owner(tenantId),
      1,
      new Date(created),
      new Date(updated),
    ];
  }
}

function* generateEntities(random: Random, entityTenant: Int32Array) {
  for (let e = 0; e < entityTenant.length; e++) {
    const kind = random.pick(words.entityKinds);
    const name =
      kind === 'ip'
        ? `198.51.${random.int(0, 255)}.${random.int(1, 254)}`
        : kind === 'account'
          ? `GB${random.int(10, 99)} WOOD ${random.int(100000, 999999)} ${random.int(10000000, 99999999)}`
          : kind === 'person'
            ? `${random.pick(words.firstNames)} ${random.pick(words.lastNames)}`
            : `${random.pick(words.places)} ${kind}`;
    yield [
      e + 1,
      entityTenant[e]!,
      kind,
      name,
      JSON.stringify({ risk: random.int(1, 100) }),
      new Date(seedBaseTime - random.int(1, year / 1000) * 1000),
    ];
  }
}

/** [first, last] entity id (1-based) of each tenant; entity ids are contiguous per tenant. */
function ranges(owners: Int32Array, tenants: number): [number, number][] {
  const out: [number, number][] = Array.from({ length: tenants }, () => [0, -1]);
  owners.forEach((tenantId, i) => {
    const range = out[tenantId - 1]!;
    if (range[0] === 0) range[0] = i + 1;
    range[1] = i + 1;
  });
  return out;
}

function* generateLinks(
  random: Random,
  count: number,
  caseTenant: Int32Array,
  caseCreated: Float64Array,
  entitiesOf: [number, number][],
) {
  const seen = new Set<number>();
  for (let attempts = 0; seen.size < count && attempts < count * 3; attempts++) {
    const c = random.int(0, caseTenant.length - 1);
    const [first, last] = entitiesOf[caseTenant[c]! - 1]!;
    if (last < first) continue;
    const entity = random.int(first, last);
    const key = c * 4_294_967_296 + entity;
    if (seen.has(key)) continue;
    seen.add(key);
    yield [caseTenant[c]!, c + 1, entity, random.pick(words.linkRoles), new Date(caseCreated[c]!)];
  }
}

/** Events or comments: half land on a hot 5% of cases, all after their case was opened. */
function* generateActivity(
  count: number,
  random: Random,
  pickCase: (hot: boolean) => number,
  caseCreated: Float64Array,
  row: (c: number, id: number) => (string | number | null)[],
) {
  for (let i = 0; i < count; i++) {
    const c = pickCase(random.chance(0.5));
    const created = caseCreated[c]!;
    const at = created + random.int(0, Math.floor((seedBaseTime - created) / 1000)) * 1000;
    yield [...row(c, i + 1), new Date(at)];
  }
}
