// GET /admin/showback: cost by tenant and feature; an operator sees every tenant, a tenant admin their own rows
// only, and nothing in their answer is derived from another tenant's figures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { HeadroomError } from '@headroom/core/errors';
import Fastify from 'fastify';
import { type AdminAccess, headroom } from '../src/index.ts';
import { tenantTestOptions } from './support/tenant-options.ts';

interface Row {
  tenant: string;
  feature: string;
  requests: number;
  cpu_seconds: number;
  share_of_requests: number;
  share_of_cpu: number;
}

// Two tenants with work on the fake clock: acme 1 search + 1 export, globex 3 searches; 2 s of CPU split.
async function harness(options: { cost?: false } = {}) {
  const clock = new FakeClock({ now: Date.parse('2026-03-01T00:00:00Z') });
  const cpu = { seconds: 0 };
  const release = new Map<string, () => void>();
  const app = Fastify();
  await app.register(headroom, {
    ...tenantTestOptions(clock),
    // Tests only: the admin access from the authorization header.
    ...(options.cost === false ? { cost: false as const } : { cost: { cpu: () => cpu.seconds } }),
    spec: {
      objectives: [{ method: 'GET', route: '/v1/search', journey: 'case-search', latency: {} }],
      telemetry: { tenantTop: 20, maxSeries: 10_000 },
    },
    admin: {
      authorize: (request): AdminAccess => {
        const auth = request.headers.authorization;
        if (auth === 'Bearer operator') return { role: 'operator' };
        if (auth === 'Bearer admin-acme') return { role: 'tenant', tenant: 'acme' };
        if (auth === 'Bearer admin-globex') return { role: 'tenant', tenant: 'globex' };
        throw new HeadroomError('HR_FORBIDDEN', 'admin scope required', { status: 403 });
      },
    },
  });
  app.get('/v1/search', async (request) => {
    const id = request.headers['x-id'] as string;
    await new Promise<void>((resolve) => release.set(id, resolve));
    return { data: [] };
  });
  app.post('/v1/exports', { config: { feature: 'export' } }, async (request) => {
    const id = request.headers['x-id'] as string;
    await new Promise<void>((resolve) => release.set(id, resolve));
    return { ok: true };
  });
  const send = (id: string, tenant: string, method: 'GET' | 'POST', url: string) =>
    app.inject({ method, url, headers: { 'x-test-tenant': tenant, 'x-id': id } });
  const inFlight = [
    send('a1', 'acme', 'GET', '/v1/search'),
    send('a2', 'acme', 'POST', '/v1/exports'),
    send('g1', 'globex', 'GET', '/v1/search'),
    send('g2', 'globex', 'GET', '/v1/search'),
    send('g3', 'globex', 'GET', '/v1/search'),
  ];
  for (let i = 0; i < 1000 && release.size < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(release.size, 5);
  // The export runs the whole second, the rest 200 ms each: 1000 + 4 × 200 = 1800 ms of flight for 1.8 s CPU.
  clock.advance(200);
  for (const id of ['a1', 'g1', 'g2', 'g3']) release.get(id)!();
  await Promise.all(inFlight.filter((_, i) => i !== 1));
  cpu.seconds = 1.8;
  clock.advance(800); // the split at t=1000: 1.8 s over 1800 ms in flight
  release.get('a2')!();
  await inFlight[1];
  clock.advance(1000);
  const showback = (authorization: string | undefined, query = '') =>
    app.inject({
      method: 'GET',
      url: `/admin/showback${query}`,
      headers: authorization === undefined ? {} : { authorization },
    });
  return { app, showback };
}

const near = (a: number, b: number) => Math.abs(a - b) < 1e-9;

test('an operator sees every tenant, sorted by CPU, with shares of the service and the window', async () => {
  const { showback } = await harness();
  const res = await showback('Bearer operator');
  assert.equal(res.statusCode, 200);
  const body = res.json() as {
    window: { since: string; until: string; seconds: number };
    shares_of: string;
    data: Row[];
    unattributed_cpu_seconds: number;
  };
  assert.equal(body.shares_of, 'service');
  assert.deepEqual(body.window, {
    since: '2026-03-01T00:00:00.000Z',
    until: '2026-03-01T00:00:02.000Z',
    seconds: 2,
  });
  const rows = body.data.filter((r) => r.tenant !== 'anonymous');
  assert.deepEqual(
    rows.map((r) => [r.tenant, r.feature, r.requests]),
    [
      ['acme', 'export', 1],
      ['globex', 'case-search', 3],
      ['acme', 'case-search', 1],
    ],
  );
  assert.ok(near(rows[0]!.cpu_seconds, 1.0), `export ${rows[0]!.cpu_seconds}`);
  assert.ok(near(rows[1]!.cpu_seconds, 0.6));
  assert.ok(near(rows[2]!.cpu_seconds, 0.2));
  assert.ok(
    near(
      body.data.reduce((sum, r) => sum + r.share_of_cpu, 0),
      1,
    ),
  );
  assert.ok(
    near(
      body.data.reduce((sum, r) => sum + r.share_of_requests, 0),
      1,
    ),
  );
  assert.ok(near(rows[0]!.share_of_cpu, 1.0 / 1.8));
  assert.equal(body.unattributed_cpu_seconds, 0);
  // An operator may narrow to one tenant.
  const globex = (await showback('Bearer operator', '?tenant=globex')).json() as { data: Row[] };
  assert.deepEqual(
    globex.data.map((r) => r.tenant),
    ['globex'],
  );
});

test('a tenant admin sees their own rows only, with shares of their own totals', async () => {
  const { showback } = await harness();
  const res = await showback('Bearer admin-acme');
  assert.equal(res.statusCode, 200);
  const body = res.json() as { shares_of: string; data: Row[]; unattributed_cpu_seconds?: number };
  assert.equal(body.shares_of, 'tenant');
  assert.deepEqual(new Set(body.data.map((r) => r.tenant)), new Set(['acme']));
  assert.doesNotMatch(res.body, /globex/);
  assert.equal(body.unattributed_cpu_seconds, undefined, 'process-wide figures are for operators');
  // Shares of acme's own 1.2 s and 2 requests: nothing here tells the service's totals.
  const exportRow = body.data.find((r) => r.feature === 'export')!;
  assert.ok(near(exportRow.share_of_cpu, 1.0 / 1.2));
  assert.ok(near(exportRow.share_of_requests, 0.5));
  assert.ok(
    near(
      body.data.reduce((sum, r) => sum + r.share_of_cpu, 0),
      1,
    ),
  );
});

test("a tenant admin cannot read another tenant's rows, by query or otherwise", async () => {
  const { showback } = await harness();
  const crossed = await showback('Bearer admin-acme', '?tenant=globex');
  assert.equal(crossed.statusCode, 403);
  assert.equal(crossed.json().code, 'HR_FORBIDDEN');
  assert.doesNotMatch(crossed.body, /case-search|cpu_seconds/);
  const other = await showback('Bearer admin-globex');
  assert.deepEqual(new Set((other.json() as { data: Row[] }).data.map((r) => r.tenant)), new Set(['globex']));
  assert.doesNotMatch(other.body, /acme|export/);
  const unknown = await showback('Bearer admin-acme', '?tenant=acme');
  assert.equal(unknown.statusCode, 200, 'naming their own tenant is fine');
});

test('no admin access, no showback; cost attribution off, 404', async () => {
  const { showback } = await harness();
  assert.equal((await showback(undefined)).statusCode, 403);
  assert.equal((await showback('Bearer someone')).statusCode, 403);
  const off = await harness({ cost: false });
  const res = await off.showback('Bearer operator');
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().code, 'HR_NOT_FOUND');
});
