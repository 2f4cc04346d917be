// The dataset's shape (which tenant owns which ids, and when things happened) and its rows as COPY text lines,
// produced lazily so millions of rows never sit in memory at once.

import { copyNullable, copyText } from './copy.ts';
import { Random } from './random.ts';
import { vocabulary } from './vocabulary.ts';

/** The instant the dataset ends at; everything happened in the year before it. Fixed, never "now". */
export const seedBaseTime = Date.parse('2026-06-01T00:00:00Z');
const year = 365 * 86_400_000;
const tiers = ['free', 'pro', 'enterprise'] as const;
const demoTenants = [
  { slug: 'acme', name: 'Acme Corporation', tier: 'enterprise', weight: 10 },
  { slug: 'globex', name: 'Globex', tier: 'pro', weight: 6 },
  { slug: 'initech', name: 'Initech', tier: 'free', weight: 4 },
] as const;

export interface Tenant {
  id: number;
  slug: string;
  name: string;
  tier: (typeof tiers)[number];
  /** Relative share of cases and entities. */
  weight: number;
  /** Ids of the tenant's users (contiguous) and teams. */
  firstUser: number;
  lastUser: number;
  teams: number[];
}

/** Who owns which id and when it was created: drawn up front, so every table's references agree. */
export interface Plan {
  tenants: Tenant[];
  orgs: { id: number; tenantId: number; name: string }[];
  teams: { id: number; tenantId: number; orgId: number; name: string }[];
  /** Per case (index = id - 1): its tenant id and creation time (ms). Ids rise with creation time. */
  caseTenant: Int32Array;
  caseCreated: Float64Array;
  entityTenant: Int32Array;
  entityCreated: Float64Array;
  /** Entity ids of each tenant (index = tenant id - 1). */
  entitiesOf: number[][];
}

/**
 * Lays out tenants, orgs, teams and user id ranges, and gives every case and entity a tenant and a time.
 *
 * @example
 * const plan = planDataset({ tenants: 3, usersPerTenant: 20, cases: 1000, entities: 100, seed: 1 });
 */
export function planDataset(o: {
  tenants: number;
  usersPerTenant: number;
  cases: number;
  entities: number;
  seed: number;
}): Plan {
  const random = new Random(o.seed, 0);
  const orgs: Plan['orgs'] = [];
  const teams: Plan['teams'] = [];
  const tenants = Array.from({ length: o.tenants }, (_, t): Tenant => {
    const id = t + 1;
    const base = demoTenants[t] ?? {
      slug: `tenant-${id}`,
      name: `Tenant ${id}`,
      tier: tiers[t % 3]!,
      weight: 2,
    };
    const tenantTeams: number[] = [];
    for (const name of vocabulary.orgNames.slice(0, 2 + (t % 2))) {
      const orgId = orgs.length + 1;
      orgs.push({ id: orgId, tenantId: id, name });
      for (let k = 0; k < 3; k++) {
        const teamId = teams.length + 1;
        teams.push({
          id: teamId,
          tenantId: id,
          orgId,
          name: vocabulary.teamNames[(orgId * 3 + k) % vocabulary.teamNames.length]!,
        });
        tenantTeams.push(teamId);
      }
    }
    const firstUser = t * o.usersPerTenant + 1;
    return { ...base, id, firstUser, lastUser: firstUser + o.usersPerTenant - 1, teams: tenantTeams };
  });
  const shares = tenants.map((t) => [t.id, t.weight] as const);
  const caseTenant = new Int32Array(o.cases);
  const caseCreated = new Float64Array(o.cases);
  for (let c = 0; c < o.cases; c++) {
    caseTenant[c] = random.weighted(shares);
    // Stratified over the year, so ids rise with created_at as they would under real inserts.
    caseCreated[c] =
      seedBaseTime - year + Math.floor(((c + random.float()) / o.cases) * (year / 1000)) * 1000;
  }
  const entityTenant = new Int32Array(o.entities);
  const entityCreated = new Float64Array(o.entities);
  const entitiesOf: number[][] = tenants.map(() => []);
  for (let e = 0; e < o.entities; e++) {
    entityTenant[e] = random.weighted(shares);
    entityCreated[e] = seedBaseTime - random.int(1, year / 1000) * 1000;
    entitiesOf[entityTenant[e]! - 1]!.push(e + 1);
  }
  return { tenants, orgs, teams, caseTenant, caseCreated, entityTenant, entityCreated, entitiesOf };
}

const iso = (ms: number) => new Date(ms).toISOString();
const user = (r: Random, t: Tenant) => r.int(t.firstUser, t.lastUser);
/** A time between `from` and the base instant, to the second. */
const after = (r: Random, from: number) => from + r.int(0, Math.floor((seedBaseTime - from) / 1000)) * 1000;

function* tenants(plan: Plan): Generator<string> {
  for (const t of plan.tenants)
    yield `${t.id}\t${t.slug}\t${copyText(t.name)}\t${t.tier}\t${iso(seedBaseTime - year)}\n`;
}

function* orgs(plan: Plan): Generator<string> {
  for (const o of plan.orgs) yield `${o.id}\t${o.tenantId}\t${copyText(o.name)}\n`;
}

function* teams(plan: Plan): Generator<string> {
  for (const t of plan.teams) yield `${t.id}\t${t.tenantId}\t${t.orgId}\t${copyText(t.name)}\n`;
}

/** admin@<slug>.test and analyst@<slug>.test log in with the one demo hash; other users cannot log in. */
function* users(plan: Plan, r: Random, passwordHash: string): Generator<string> {
  for (const t of plan.tenants) {
    for (let id = t.firstUser; id <= t.lastUser; id++) {
      const n = id - t.firstUser;
      const login = n === 0 ? 'admin' : n === 1 ? 'analyst' : undefined;
      const email = login ? `${login}@${t.slug}.test` : `user${id}@${t.slug}.test`;
      const role = n === 0 || n % 10 === 0 ? 'admin' : 'analyst';
      const hash = login ? copyText(passwordHash) : '\\N';
      const team = t.teams[n % t.teams.length]!;
      const name = copyText(vocabulary.person(r));
      yield `${id}\t${t.id}\t${team}\t${email}\t${name}\t${role}\t${hash}\t${iso(seedBaseTime - year)}\n`;
    }
  }
}

const openStatuses = [
  ['open', 4],
  ['investigating', 3],
  ['escalated', 1],
] as const;
const priorities = [
  ['low', 3],
  ['medium', 4],
  ['high', 2],
  ['critical', 1],
] as const;

/** Older cases are more often closed; 5% have no owner yet. */
function* cases(plan: Plan, r: Random): Generator<string> {
  for (let c = 0; c < plan.caseTenant.length; c++) {
    const t = plan.tenants[plan.caseTenant[c]! - 1]!;
    const created = plan.caseCreated[c]!;
    const age = seedBaseTime - created;
    const closed = r.chance(Math.min(0.85, age / (240 * 86_400_000)));
    const status = closed ? 'closed' : r.weighted(openStatuses);
    const busy = Math.min(age, (closed ? 60 : 30) * 86_400_000);
    const updated = created + r.int(0, Math.floor(busy / 1000)) * 1000;
    const version = updated === created ? 1 : r.int(2, 6);
    const owner = r.chance(0.05) ? null : user(r, t);
    const title = copyText(vocabulary.caseTitle(r));
    const description = copyText(vocabulary.caseDescription(r));
    yield `${c + 1}\t${t.id}\t${title}\t${description}\t${status}\t${r.weighted(priorities)}\t${copyNullable(owner)}\t${version}\t${iso(created)}\t${iso(updated)}\n`;
  }
}

function* entities(plan: Plan, r: Random): Generator<string> {
  for (let e = 0; e < plan.entityTenant.length; e++) {
    const kind = r.pick(vocabulary.entityKinds);
    const name = copyText(vocabulary.entityName(r, kind));
    const attributes = copyText(vocabulary.entityAttributes(r, kind));
    yield `${e + 1}\t${plan.entityTenant[e]}\t${kind}\t${name}\t${attributes}\t${iso(plan.entityCreated[e]!)}\n`;
  }
}

/** Distinct (case, entity) pairs within a tenant, linked once both exist. */
function* links(plan: Plan, r: Random, count: number): Generator<string> {
  const cases = plan.caseTenant.length;
  const seen = new Set<number>();
  for (let attempts = 0; seen.size < count && attempts < count * 3; attempts++) {
    const c = r.int(0, cases - 1);
    const tenantId = plan.caseTenant[c]!;
    const candidates = plan.entitiesOf[tenantId - 1]!;
    if (candidates.length === 0) continue;
    const entity = r.pick(candidates);
    const key = entity * cases + c;
    if (seen.has(key)) continue;
    seen.add(key);
    const at = after(r, Math.max(plan.caseCreated[c]!, plan.entityCreated[entity - 1]!));
    yield `${tenantId}\t${c + 1}\t${entity}\t${r.pick(vocabulary.linkRoles)}\t${iso(at)}\n`;
  }
}

/** Half of all activity lands on a busy 5% of cases (every 20th), the rest anywhere, after the case opened. */
function pickCase(plan: Plan, r: Random): number {
  const n = plan.caseTenant.length;
  return r.chance(0.5) ? 20 * r.int(0, Math.floor((n - 1) / 20)) : r.int(0, n - 1);
}

function* events(plan: Plan, r: Random, count: number): Generator<string> {
  for (let id = 1; id <= count; id++) {
    const c = pickCase(plan, r);
    const t = plan.tenants[plan.caseTenant[c]! - 1]!;
    const [kind, summary] = vocabulary.event(r);
    const at = iso(after(r, plan.caseCreated[c]!));
    yield `${id}\t${t.id}\t${c + 1}\t${kind}\t${copyText(summary)}\t${user(r, t)}\t${at}\n`;
  }
}

function* comments(plan: Plan, r: Random, count: number): Generator<string> {
  for (let id = 1; id <= count; id++) {
    const c = pickCase(plan, r);
    const t = plan.tenants[plan.caseTenant[c]! - 1]!;
    const at = iso(after(r, plan.caseCreated[c]!));
    yield `${id}\t${t.id}\t${c + 1}\t${user(r, t)}\t${copyText(vocabulary.comment(r))}\t${at}\n`;
  }
}

/**
 * Each table's rows as COPY text lines, generated lazily from the plan and the table's own random stream.
 *
 * @example
 * const plan = planDataset({ tenants: 3, usersPerTenant: 8, cases: 300, entities: 120, seed: 1 });
 * await copyLines(client, 'cases', caseColumns, lines.cases(plan, new Random(1, 2)));
 */
export const lines = { tenants, orgs, teams, users, cases, entities, links, events, comments };
