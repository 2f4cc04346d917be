// Rate-limit decisions by tenant: the tracker on a fake clock (counts, order, quota use, bounded memory), and
// `GET /admin/ratelimits/tenants` through an app whose counts match the answers the plugin gave.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { HeadroomError } from '@headroom/core/errors';
import {
  createRateLimiter,
  type RateLimitDecision,
  rateLimitKey,
  rateLimitPolicy,
} from '@headroom/core/ratelimit';
import Fastify from 'fastify';
import { type AdminAccess, headroom } from '../src/index.ts';
import { type RateLimitTenantRow, RateLimitTenants } from '../src/rate-limit-tenants.ts';
import { tenantTestOptions } from './support/tenant-options.ts';

const free = rateLimitPolicy({ name: 'free', limit: 10, window: 60_000 });
const burst = rateLimitPolicy({ name: 'burst', limit: 4, window: 1_000 });

const decided = (
  policy: typeof free,
  remaining: number,
  options: { allowed?: boolean; resetMs?: number } = {},
): RateLimitDecision => ({
  allowed: options.allowed ?? true,
  policy,
  limit: policy.limit,
  remaining,
  resetMs: options.resetMs ?? 6_000,
  retryAfterMs: options.allowed === false ? 6_000 : 0,
});

const start = Date.parse('2026-03-01T00:00:00Z');

test('counts admitted and refused requests, and the quota of the latest decision per policy', () => {
  const clock = new FakeClock({ now: start });
  const tenants = new RateLimitTenants({ clock });
  tenants.observe('acme', [decided(free, 9), decided(burst, 3)]);
  tenants.observe('acme', [decided(free, 8), decided(burst, 2)]);
  clock.advance(1_000);
  // Refused by one of two policies: one 429, counted once.
  tenants.observe('acme', [decided(free, 5), decided(burst, 0, { allowed: false, resetMs: 4_000 })]);
  tenants.observe(undefined, [decided(free, 9)]);
  clock.advance(1_000);
  const [acme, anonymous] = tenants.top(10);
  assert.deepEqual(acme, {
    tenant: 'acme',
    admitted: 2,
    refused: 1,
    since: '2026-03-01T00:00:00.000Z',
    last_refused_at: '2026-03-01T00:00:01.000Z',
    policies: [
      {
        policy: 'free',
        limit: 10,
        remaining: 5,
        used_share: 0.5,
        refused: 0,
        reset_s: 5,
        decided_at: '2026-03-01T00:00:01.000Z',
      },
      {
        policy: 'burst',
        limit: 4,
        remaining: 0,
        used_share: 1,
        refused: 1,
        reset_s: 3,
        decided_at: '2026-03-01T00:00:01.000Z',
      },
    ],
  } satisfies RateLimitTenantRow);
  assert.equal(anonymous?.tenant, 'anonymous', 'no tenant counts as anonymous');
  assert.equal(anonymous?.last_refused_at, null);
  // The decision's own time (the hook passes the request's arrival) wins over the clock.
  tenants.observe('acme', [decided(free, 6)], start + 500);
  assert.equal(tenants.top(1)[0]?.policies[0]?.decided_at, '2026-03-01T00:00:00.500Z');
  clock.advance(10_000);
  assert.equal(tenants.top(1)[0]?.policies[0]?.reset_s, 0, 'full by now: reset_s does not go negative');
});

test('top N: most refused first, then by the highest quota use, then by requests admitted; or one tenant', () => {
  const tenants = new RateLimitTenants({ clock: new FakeClock({ now: start }) });
  for (let i = 0; i < 5; i++) tenants.observe('quiet', [decided(free, 9)]);
  tenants.observe('busy', [decided(free, 1)]);
  tenants.observe('refused-once', [decided(free, 0, { allowed: false })]);
  for (let i = 0; i < 3; i++) tenants.observe('refused-thrice', [decided(free, 0, { allowed: false })]);
  tenants.observe('idle', [decided(free, 9)]);
  assert.deepEqual(
    tenants.top(10).map((r) => r.tenant),
    ['refused-thrice', 'refused-once', 'busy', 'quiet', 'idle'],
  );
  assert.deepEqual(
    tenants.top(2).map((r) => r.tenant),
    ['refused-thrice', 'refused-once'],
  );
  assert.deepEqual(
    tenants.top(10, 'quiet').map((r) => [r.tenant, r.admitted]),
    [['quiet', 5]],
  );
  assert.deepEqual(tenants.top(10, 'nobody'), []);
});

test('memory stays at capacity however many tenants; the heavy ones win rows at the next re-rank', () => {
  const clock = new FakeClock({ now: start });
  const tenants = new RateLimitTenants({ clock, capacity: 10, rankEvery: 1_000 });
  // The rows go to the first ten while free (10 001 requests each); then 100 000 one-off tenants and two
  // heavier latecomers (20 000 and 25 000 requests).
  const early = Array.from({ length: 10 }, (_, i) => `early-${i}`);
  for (const tenant of early) tenants.observe(tenant, [decided(free, 9)]);
  for (let i = 0; i < 100_000; i++) {
    tenants.observe(`once-${i}`, [decided(free, 9)]);
    tenants.observe(early[i % 10]!, [decided(free, 9)]);
    if (i % 5 === 0) tenants.observe('heavy-a', [decided(free, 0, { allowed: false })]);
    if (i % 4 === 0) tenants.observe('heavy-b', [decided(free, 5)]);
  }
  assert.equal(tenants.size, 10);
  assert.deepEqual(
    tenants.top(100).map((r) => r.tenant),
    early,
    'no re-rank yet: the rows are as given',
  );
  clock.advance(1_000);
  tenants.observe('heavy-a', [decided(free, 0, { allowed: false })]); // runs the re-rank, then counts
  tenants.observe('heavy-b', [decided(free, 5)]);
  const rows = tenants.top(100);
  assert.equal(tenants.size, 10);
  // The two latecomers beat the early tenants' 10 001 (weighed 1.25 as incumbents); one-off tenants never
  // beat anyone. The two early ones last by name make way.
  assert.deepEqual(
    rows.map((r) => [r.tenant, r.refused, r.admitted]),
    [['heavy-a', 1, 0], ['heavy-b', 0, 1], ...early.slice(0, 8).map((tenant) => [tenant, 0, 10_001])],
  );
  assert.equal(rows[0]?.since, '2026-03-01T00:00:01.000Z', 'a row won later counts from then');
  assert.equal(rows[2]?.since, '2026-03-01T00:00:00.000Z', 'a row kept keeps its counts');
});

test('a row keeps at most eight policies, the least recently decided making way', () => {
  const clock = new FakeClock({ now: start });
  const tenants = new RateLimitTenants({ clock });
  for (let i = 0; i < 12; i++) {
    tenants.observe('acme', [decided(rateLimitPolicy({ name: `p${i}`, limit: 10, window: 1_000 }), 5)]);
    clock.advance(1);
  }
  assert.deepEqual(
    tenants
      .top(1)[0]
      ?.policies.map((q) => q.policy)
      .sort(),
    ['p10', 'p11', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9'],
  );
});

test('bad options throw, naming the option', () => {
  assert.throws(() => new RateLimitTenants({ capacity: 0 }), /"capacity"/);
  assert.throws(() => new RateLimitTenants({ capacity: 10, counters: 5 }), /"capacity"/);
  assert.throws(() => new RateLimitTenants({ rankEvery: -1 }), /"rankEvery"/);
});

// Tenant A hammers a route past its quota while B stays within it: one route with two checks (per tenant and
// shared, decided together), and a scope's hook from `protection.rateLimitHook` with one (decided at once).
async function harness() {
  const clock = new FakeClock({ now: start });
  const app = Fastify();
  await app.register(headroom, {
    ...tenantTestOptions(clock),
    // Tests only: the admin access from the authorization header.
    admin: {
      authorize: (request): AdminAccess => {
        const auth = request.headers.authorization;
        if (auth === 'Bearer operator') return { role: 'operator' };
        if (auth === 'Bearer admin-quiet') return { role: 'tenant', tenant: 'quiet' };
        throw new HeadroomError('HR_FORBIDDEN', 'admin scope required', { status: 403 });
      },
    },
  });
  const limiter = createRateLimiter({
    clock,
    policies: [
      { name: 'tenant', limit: 5, window: 60_000 },
      { name: 'shared', limit: 1_000, window: 60_000 },
    ],
  });
  const tenantKey = (request: { headers: Record<string, unknown> }, scope: string) =>
    rateLimitKey({ tenant: String(request.headers['x-test-tenant'] ?? '-') }, scope);
  app.get(
    '/v1/search',
    {
      config: {
        rateLimit: {
          limiter,
          checks: (request) => [
            { key: tenantKey(request, 'search'), policy: 'tenant' },
            { key: rateLimitKey({ client: 'all' }, 'search'), policy: 'shared' },
          ],
        },
      },
    },
    async () => ({ data: [] }),
  );
  await app.register(async (scope) => {
    scope.addHook(
      'preValidation',
      app.headroom.protection.rateLimitHook({
        limiter,
        checks: (request) => [{ key: tenantKey(request, 'export'), policy: 'tenant' }],
      }),
    );
    scope.post('/v1/exports', async () => ({ ok: true }));
  });
  const call = async (tenant: string, method: 'GET' | 'POST', url: string) =>
    (await app.inject({ method, url, headers: { 'x-test-tenant': tenant } })).statusCode;
  const admin = (authorization: string, query = '') =>
    app.inject({ method: 'GET', url: `/admin/ratelimits/tenants${query}`, headers: { authorization } });
  return { app, call, admin };
}

interface Listing {
  since: string;
  capacity: number;
  data: RateLimitTenantRow[];
}

test('the admin route lists the hammered tenant first, with the 429s it was answered', async () => {
  const { call, admin } = await harness();
  const answers = { loud: new Map<number, number>(), quiet: new Map<number, number>() };
  const count = (tenant: 'loud' | 'quiet', status: number) =>
    answers[tenant].set(status, (answers[tenant].get(status) ?? 0) + 1);
  for (let i = 0; i < 20; i++) count('loud', await call('loud', 'GET', '/v1/search'));
  for (let i = 0; i < 8; i++) count('loud', await call('loud', 'POST', '/v1/exports'));
  for (let i = 0; i < 2; i++) count('quiet', await call('quiet', 'GET', '/v1/search'));
  count('quiet', await call('quiet', 'POST', '/v1/exports'));
  assert.equal(answers.loud.get(429), 18, 'loud: 15 search and 3 export refusals');
  assert.equal(answers.quiet.get(429), undefined);

  const res = await admin('Bearer operator');
  assert.equal(res.statusCode, 200);
  const body = res.json() as Listing;
  assert.equal(body.since, '2026-03-01T00:00:00.000Z');
  assert.equal(body.capacity, 200);
  assert.deepEqual(
    body.data.map((r) => [r.tenant, r.admitted, r.refused]),
    [
      ['loud', answers.loud.get(200), answers.loud.get(429)],
      ['quiet', answers.quiet.get(200), 0],
    ],
  );
  const [loud, quiet] = body.data;
  assert.equal(loud?.last_refused_at, '2026-03-01T00:00:00.000Z');
  const tenantQuota = loud?.policies.find((q) => q.policy === 'tenant');
  assert.deepEqual([tenantQuota?.remaining, tenantQuota?.used_share, tenantQuota?.refused], [0, 1, 18]);
  assert.equal(loud?.policies.find((q) => q.policy === 'shared')?.refused, 0);
  assert.equal(quiet?.last_refused_at, null);
  assert.ok((quiet?.policies.find((q) => q.policy === 'tenant')?.used_share ?? 0) < 1);

  const one = (await admin('Bearer operator', '?limit=1')).json() as Listing;
  assert.deepEqual(
    one.data.map((r) => r.tenant),
    ['loud'],
  );
  const narrowed = (await admin('Bearer operator', '?tenant=quiet')).json() as Listing;
  assert.deepEqual(
    narrowed.data.map((r) => r.tenant),
    ['quiet'],
  );
});

test("a tenant admin sees their own tenant's row only, and cannot name another", async () => {
  const { call, admin } = await harness();
  for (let i = 0; i < 10; i++) await call('loud', 'GET', '/v1/search');
  await call('quiet', 'GET', '/v1/search');
  const own = await admin('Bearer admin-quiet');
  assert.equal(own.statusCode, 200);
  assert.deepEqual(
    (own.json() as Listing).data.map((r) => [r.tenant, r.admitted, r.refused]),
    [['quiet', 1, 0]],
  );
  assert.doesNotMatch(own.body, /loud/);
  const crossed = await admin('Bearer admin-quiet', '?tenant=loud');
  assert.equal(crossed.statusCode, 403);
  assert.equal(crossed.json().code, 'HR_FORBIDDEN');
  assert.doesNotMatch(crossed.body, /"refused"/);
  assert.equal((await admin('Bearer nobody')).statusCode, 403);
});

test('a bad limit is a 400 problem naming query.limit', async () => {
  const { admin } = await harness();
  for (const limit of ['0', '101', 'ten', '1.5']) {
    const res = await admin('Bearer operator', `?limit=${limit}`);
    assert.equal(res.statusCode, 400, `limit=${limit}`);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json().code, 'HR_VALIDATION');
    assert.equal(res.json().field, 'query.limit');
  }
  assert.equal((await admin('Bearer operator', '?limit=100')).statusCode, 200);
});
