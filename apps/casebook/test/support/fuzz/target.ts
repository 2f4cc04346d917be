// The casebook the fuzz suite attacks: its own database, short connection timeouts, and callers of several
// tenants and roles who know their own ids and ETags, so requests also get past validation.

import { systemClock } from '@headroom/core/clock';
import fc from 'fast-check';
import type { AppDeps } from '../../../src/app.ts';
import { startTestApp, type TestApp, testOperatorToken } from '../app.ts';
import type { Resolve } from './request.ts';
import type { Issued } from './routes.ts';

/** Connection timeouts of the app under attack: short, so raw-socket cases end quickly. */
export const fuzzConnection = {
  headersTimeout: 1_000,
  requestTimeout: 1_500,
  keepAliveTimeout: 1_000,
  checkInterval: 100,
};

/** Who sends a request: its `Authorization` value, and how its own values are filled in. */
export interface Caller {
  authorization: string | undefined;
  /** The tenant whose ids it owns, and the only one whose data it may get. */
  tenant: number;
  resolve: Resolve;
  /** How fast-check prints the caller in a counterexample. */
  [fc.toStringMethod](): string;
}

/** A casebook under attack, with the callers the requests come from. */
export interface FuzzTarget {
  t: TestApp;
  /** A valid session token of an admin of acme, for raw-socket cases that must pass authentication. */
  adminToken: string;
  /** Sessions of admins and analysts of three tenants, an API key, the operator. */
  callers: Caller[];
  /** Odd `Authorization` values: junk secrets, other schemes, malformed headers, none. */
  intruders: Caller[];
  /** The only caller logout gets (logging out revokes its token; later calls are 401s). */
  loggingOut: Caller;
}

const poolsQuery = `SELECT
  ARRAY(SELECT id FROM cases WHERE tenant_id = $1 ORDER BY id LIMIT 40) AS "case",
  ARRAY(SELECT id FROM entities WHERE tenant_id = $1 ORDER BY id LIMIT 40) AS entity,
  ARRAY(SELECT id FROM users WHERE tenant_id = $1 ORDER BY id) AS "user",
  ARRAY(SELECT id FROM exports WHERE tenant_id = $1 ORDER BY id LIMIT 40) AS "export",
  ARRAY(SELECT id FROM headroom.webhook_endpoints WHERE tenant = $1::text ORDER BY id LIMIT 40) AS "webhook"`;

// API keys other than the callers' own, so deleting one never locks a caller out.
const keysQuery = 'SELECT id FROM api_keys WHERE tenant_id = $1 AND NOT (id = ANY($2)) ORDER BY id';

/**
 * Starts casebook (real clock, so the suggestions timeouts fire), logs in as several tenants and roles,
 * creates API keys, and fills `issued` with real cursors, ETags and admin names.
 *
 * @example
 * const issued: Issued = { cursors: [], etags: [], names: [] };
 * const routes = fuzzRoutes(issued);
 * const target = await startFuzzTarget(issued);
 */
export async function startFuzzTarget(
  issued: Issued,
  options: Pick<Parameters<typeof startTestApp>[0] & {}, 'pooler'> & Pick<AppDeps, 'onStatement'> = {},
): Promise<FuzzTarget> {
  // Event streams end within 2 s: a stream on an export that cannot finish (its queue paused) is no hang.
  const t = await startTestApp({
    ...(options.pooler ? { pooler: options.pooler } : {}),
    deps: {
      ...(options.onStatement ? { onStatement: options.onStatement } : {}),
      clock: systemClock(),
      connection: fuzzConnection,
      exportEvents: { pollInterval: 100, streamLimit: 2_000 },
      // Webhook URLs are vetted by resolving their host: never through the network here. Every name is
      // "public", so no webhook worker runs in this process: nothing is ever sent to such an address.
      webhooks: { resolver: async () => [{ address: '93.184.216.34', family: 4 }], workers: 0 },
    },
  });
  const tenantOf = async (email: string) =>
    (await t.db.pool.query('SELECT tenant_id FROM users WHERE email = $1', [email])).rows[0]
      .tenant_id as number;
  const callerKeys: number[] = [];
  // `token` reads as the caller's (its ETags are the ones it can see); `email` says whose ids it owns.
  const caller = async (
    email: string,
    token: string | undefined,
    authorization?: string,
  ): Promise<Caller> => {
    const tenant = await tenantOf(email);
    const pools = (await t.db.pool.query(poolsQuery, [tenant])).rows[0] as Record<string, number[]>;
    const resolve: Resolve = async (own, id) => {
      if (own.kind === 'tenant') return String(tenant);
      if (own.kind === 'etag') return currentTag(t, token, id, own.pick);
      const list =
        own.kind === 'key'
          ? (await t.db.pool.query(keysQuery, [tenant, callerKeys])).rows.map((r) => r.id as number)
          : (pools[own.kind] ?? []);
      return list[own.pick % Math.max(list.length, 1)] ?? 2 ** 31 - 1;
    };
    const sent = authorization ?? (token && `Bearer ${token}`);
    const label = `${email.split('@')[1]} ${sent === undefined ? 'no authorization' : JSON.stringify(sent.slice(0, 40))}`;
    return { authorization: sent, tenant, resolve, [fc.toStringMethod]: () => label };
  };

  const acme = await t.login('admin@acme.test');
  const keys: string[] = [];
  for (const name of ['fuzz caller', 'spare 1', 'spare 2']) {
    const res = await t.as(acme, { method: 'POST', url: '/v1/api-keys', payload: { name } });
    if (res.statusCode !== 201) throw new Error(`creating an API key failed: ${res.statusCode} ${res.body}`);
    keys.push(res.json().key);
    if (name === 'fuzz caller') callerKeys.push(res.json().id);
  }
  // An export per tenant before the pools are read, so that `:id` of the export routes can be a real one.
  for (const email of ['analyst@acme.test', 'analyst@globex.test', 'analyst@initech.test']) {
    const res = await t.as(await t.login(email), {
      method: 'POST',
      url: '/v1/exports',
      payload: { kind: 'cases', format: 'csv' },
      headers: { 'idempotency-key': `"fuzz-${email}"` },
    });
    if (res.statusCode !== 202) throw new Error(`creating an export failed: ${res.statusCode} ${res.body}`);
  }
  // A webhook endpoint per tenant with admins, so that `:id` of the webhook routes can be a real one.
  for (const email of ['admin@acme.test', 'admin@globex.test']) {
    const res = await t.as(await t.login(email), {
      method: 'POST',
      url: '/v1/webhooks',
      payload: { url: 'https://hooks.example.com/fuzz', events: ['case.created'] },
    });
    if (res.statusCode !== 201)
      throw new Error(`creating a webhook endpoint failed: ${res.statusCode} ${res.body}`);
  }
  const callers: Caller[] = [];
  for (const email of ['admin@acme.test', 'analyst@acme.test', 'admin@globex.test', 'analyst@globex.test']) {
    callers.push(await caller(email, await t.login(email)));
  }
  callers.push(
    await caller('analyst@initech.test', await t.login('analyst@initech.test')),
    await caller('admin@acme.test', keys[0]),
    await caller('admin@acme.test', testOperatorToken),
  );
  // The odd Authorization values carry a session of their own: logout gets them too, and may revoke it.
  const victim = await t.login('admin@acme.test');
  const intruders: Caller[] = [];
  for (const authorization of [
    'Bearer hrs_not-a-real-token',
    'Bearer hrk_not-a-real-key',
    'Bearer',
    'Bearer ',
    `Bearer ${victim.slice(0, -1)}`,
    `Bearer  ${victim}`,
    `Bearer ${victim} ${victim}`,
    `Bearer hrs_${'x'.repeat(5_000)}`,
    'Basic YWRtaW5AYWNtZS50ZXN0OmhlYWRyb29tLWRlbW8=',
    `bearer ${victim}`,
    victim,
  ]) {
    intruders.push(await caller('admin@acme.test', undefined, authorization));
  }
  intruders.push(await caller('admin@acme.test', undefined));
  await collect(t, acme, issued);
  await collect(t, await t.login('admin@globex.test'), issued);
  const loggingOut = await caller('analyst@acme.test', await t.login('analyst@acme.test'));
  return { t, adminToken: acme, callers, intruders, loggingOut };
}

/**
 * The ETag a GET of case `id` gets now, or a tag that matches nothing; by `pick`, as the identity tag or as
 * a client holding the gzip, br or stale variant of the same representation has it.
 */
async function currentTag(t: TestApp, token: string | undefined, id: string, pick: number): Promise<string> {
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const res = await t.app.inject({ url: `/v1/cases/${id}`, headers });
  if (typeof res.headers.etag !== 'string') return '"0-none"';
  const mark = ['', '-gzip', '-br', '~stale'][pick % 4];
  return mark ? `${res.headers.etag.slice(0, -1)}${mark}"` : res.headers.etag;
}

/** Cursors of first pages (search, timelines, comments), ETags of cases at several depths, admin names. */
async function collect(t: TestApp, token: string, issued: Issued): Promise<void> {
  const first = (await t.as(token, { url: '/v1/cases/search?limit=2' })).json();
  if (first.page.next_cursor) issued.cursors.push(first.page.next_cursor);
  for (const { id } of first.data as { id: number }[]) {
    for (const list of ['timeline', 'comments']) {
      const page = (await t.as(token, { url: `/v1/cases/${id}/${list}?limit=1` })).json();
      if (page.page.next_cursor) issued.cursors.push(page.page.next_cursor);
    }
    for (const query of ['', '?expand=owner.team.org', '?fields=title,status']) {
      const etag = (await t.as(token, { url: `/v1/cases/${id}${query}` })).headers.etag;
      if (typeof etag === 'string') issued.etags.push(etag);
    }
  }
  for (const kind of ['breakers', 'caches']) {
    const list = (await t.operator({ url: `/admin/${kind}` })).json().data as { name: string }[];
    for (const { name } of list) {
      // Isolating the database's connect breaker is the operator's kill switch: every database call answers
      // 503 from then on, by design. The fuzz forbids 5xx and keeps what it did for the rest of the run, so it
      // leaves that one alone (database-faults.test.ts covers the breaker).
      if (name === 'database') continue;
      if (!issued.names.includes(name)) issued.names.push(name);
    }
  }
  if (!issued.cursors.length || !issued.etags.length || !issued.names.length) {
    throw new Error(`the fuzz target found too little to attack with: ${JSON.stringify(issued)}`);
  }
}

/**
 * The caller of a request to `url`: mostly a real one, sometimes an intruder. Logout only ever gets its own
 * caller, so it cannot revoke the sessions the other routes use.
 */
export function callerArbitrary(target: FuzzTarget, url: string): fc.Arbitrary<Caller> {
  const real =
    url === '/v1/auth/logout' ? fc.constant(target.loggingOut) : fc.constantFrom(...target.callers);
  return fc.oneof(
    { weight: 5, arbitrary: real },
    { weight: 1, arbitrary: fc.constantFrom(...target.intruders) },
  );
}
