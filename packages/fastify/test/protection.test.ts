import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { HeadroomError } from '@headroom/core/errors';
import { bulkhead, circuitBreaker, retry } from '@headroom/core/policy';
import { createRateLimiter, rateLimitKey } from '@headroom/core/ratelimit';
import Fastify from 'fastify';
import { type AdminAccess, headroom } from '../src/index.ts';

async function app(options: { admin?: boolean } = {}) {
  const instance = Fastify();
  await instance.register(headroom, {
    service: 'test',
    version: '1.0.0',
    defaultMetrics: false,
    ...(options.admin
      ? {
          admin: {
            authorize: (request): AdminAccess => {
              if (request.headers.authorization === 'Bearer operator') return { role: 'operator' };
              if (request.headers.authorization === 'Bearer tenant-admin')
                return { role: 'tenant', tenant: 't1' };
              throw new HeadroomError('HR_FORBIDDEN', 'admin scope required', { status: 403 });
            },
          },
        }
      : {}),
  });
  return instance;
}

test('a rate-limited route answers 429 problem+json naming the policy, with RateLimit headers and Retry-After', async () => {
  const clock = new FakeClock();
  const limiter = createRateLimiter({ clock, policies: [{ name: 'free', limit: 2, window: 60_000 }] });
  const server = await app();
  server.get(
    '/search',
    {
      config: {
        rateLimit: {
          limiter,
          checks: (request) => [
            { key: rateLimitKey({ tenant: String(request.headers['x-tenant']) }, 'search'), policy: 'free' },
          ],
        },
      },
    },
    async () => ({ ok: true }),
  );
  const get = (tenant: string) =>
    server.inject({ method: 'GET', url: '/search', headers: { 'x-tenant': tenant } });
  const first = await get('acme');
  assert.equal(first.statusCode, 200);
  assert.equal(first.headers['ratelimit-policy'], '"free";q=2;w=60');
  assert.match(String(first.headers.ratelimit), /^"free";r=1;t=\d+$/);
  assert.equal((await get('acme')).statusCode, 200);
  const limited = await get('acme');
  assert.equal(limited.statusCode, 429);
  assert.match(String(limited.headers['content-type']), /^application\/problem\+json/);
  const body = limited.json();
  assert.equal(body.code, 'HR_RATE_LIMITED');
  assert.equal(body.policy, 'free');
  assert.deepEqual(body.violated_policies, ['free']);
  assert.ok(
    body.retry_after_ms > 29_000 && body.retry_after_ms <= 30_000,
    `retry_after_ms ${body.retry_after_ms}`,
  );
  // The old spellings, kept for one release.
  assert.deepEqual(body['violated-policies'], body.violated_policies);
  assert.equal(body.retryAfterMs, body.retry_after_ms);
  assert.equal(limited.headers['retry-after'], '30');
  assert.match(String(limited.headers.ratelimit), /^"free";r=0;t=30$/);
  assert.equal((await get('globex')).statusCode, 200, 'another tenant has its own bucket');
  clock.advance(30_000);
  assert.equal((await get('acme')).statusCode, 200, 'allowed again after Retry-After');

  const metrics = (await server.inject('/metrics')).body;
  assert.match(
    metrics,
    /headroom_ratelimit_decisions_total\{policy="free",result="limited",source="store"\} 1/,
  );
  assert.match(
    metrics,
    /headroom_ratelimit_decisions_total\{policy="free",result="allowed",source="store"\} 4/,
  );
});

test('a client over its quota is one log line per burst, not one per refused request', async () => {
  const clock = new FakeClock();
  const lines: { msg: string; code?: string; suppressed?: number }[] = [];
  const server = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => void lines.push(JSON.parse(line)) } },
  });
  await server.register(headroom, { service: 'test', version: '1.0.0', defaultMetrics: false, clock });
  const limiter = createRateLimiter({ clock, policies: [{ name: 'tiny', limit: 1, window: 60_000 }] });
  const key = rateLimitKey({ tenant: 'acme' }, 'flood');
  server.get(
    '/flood',
    { config: { rateLimit: { limiter, checks: () => [{ key, policy: 'tiny' }] } } },
    async () => ({}),
  );
  assert.equal((await server.inject('/flood')).statusCode, 200);
  for (let i = 0; i < 20; i++) assert.equal((await server.inject('/flood')).statusCode, 429);
  const refusals = () => lines.filter((l) => l.code === 'HR_RATE_LIMITED');
  assert.equal(refusals().length, 1, 'twenty refusals, one line');
  await clock.tick(10_000);
  assert.equal((await server.inject('/flood')).statusCode, 429);
  assert.equal(refusals()[1]?.suppressed, 19);
  await server.close();
});

test('a full concurrency limit answers 503 HR_OVERLOADED with Retry-After at once, and frees the slot after', async () => {
  const limiter = bulkhead({ name: 'reports', maxConcurrent: 1, maxQueue: 0 });
  const server = await app();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  server.get('/report', { config: { concurrency: { limiter, retryDelay: 2_000 } } }, async () => {
    await gate;
    return { done: true };
  });
  const running = server.inject('/report');
  while (limiter.inflight === 0) await new Promise((r) => setImmediate(r));
  const started = performance.now();
  const shed = await server.inject('/report');
  const ms = performance.now() - started;
  assert.equal(shed.statusCode, 503);
  assert.equal(shed.json().code, 'HR_OVERLOADED');
  assert.equal(shed.headers['retry-after'], '2');
  assert.ok(ms < 50, `the overload answer took ${ms.toFixed(1)} ms`);
  release();
  assert.equal((await running).statusCode, 200);
  assert.equal(limiter.inflight, 0);
  assert.equal((await server.inject('/report')).statusCode, 200);
  const metrics = (await server.inject('/metrics')).body;
  assert.match(metrics, /headroom_concurrency_rejected_total\{limiter="reports",reason="full"\} 1/);
  assert.match(metrics, /headroom_concurrency_inflight\{limiter="reports"\} 0/);
});

test('the old retryAfter (seconds) still sets Retry-After for one release, with a DeprecationWarning', async (t) => {
  const warned = t.mock.method(process, 'emitWarning', () => {});
  const limiter = bulkhead({ name: 'legacy', maxConcurrent: 1, maxQueue: 0 });
  const server = await app();
  const { promise: gate, resolve: release } = Promise.withResolvers<void>();
  server.get('/legacy', { config: { concurrency: { limiter, retryAfter: 3 } } }, async () => {
    await gate;
    return {};
  });
  const running = server.inject('/legacy');
  while (limiter.inflight === 0) await new Promise((r) => setImmediate(r));
  assert.equal((await server.inject('/legacy')).headers['retry-after'], '3');
  release();
  await running;
  assert.match(
    String(warned.mock.calls[0]?.arguments[0]),
    /option "retryAfter" is deprecated .* use "retryDelay \(ms\)"/,
  );
});

test('breakers show in /metrics and /health; only a critical open breaker makes the instance unready', async () => {
  const clock = new FakeClock();
  const server = await app();
  const optional = server.headroom.protection.breaker(
    circuitBreaker({ name: 'enrichment', minimumCalls: 1, clock }),
  );
  const critical = server.headroom.protection.breaker(
    circuitBreaker({ name: 'ledger', minimumCalls: 1, clock }),
    {
      critical: true,
    },
  );
  server.headroom.protection.retry('enrichment', retry({ maxAttempts: 2, initialDelay: 0, clock }));
  await optional.execute(() => Promise.reject(new Error('down'))).catch(() => {});
  assert.equal(optional.state, 'open');

  const ready = await server.inject('/health/ready');
  assert.equal(ready.statusCode, 200, 'an optional upstream being open keeps the instance ready');
  const health = (await server.inject('/health')).json();
  assert.deepEqual(health.checks['breaker:enrichment'], [{ status: 'warn', output: 'circuit open' }]);
  assert.deepEqual(health.checks['breaker:ledger'], [{ status: 'pass' }]);

  await critical.execute(() => Promise.reject(new Error('down'))).catch(() => {});
  assert.equal((await server.inject('/health/ready')).statusCode, 503);

  const metrics = (await server.inject('/metrics')).body;
  assert.match(metrics, /headroom_breaker_state\{breaker="enrichment"\} 2/);
  assert.match(
    metrics,
    /headroom_breaker_transitions_total\{breaker="enrichment",from="closed",to="open"\} 1/,
  );
  assert.throws(
    () => server.headroom.protection.breaker(circuitBreaker({ name: 'ledger' })),
    /option "name" must be a name no registered breaker has, got "ledger"/,
  );
});

test('the admin API lists, isolates, releases and resets breakers, for operators only', async () => {
  const clock = new FakeClock();
  const closedServer = await app();
  assert.equal(
    (await closedServer.inject('/admin/breakers')).statusCode,
    404,
    'no admin API unless asked for',
  );

  const server = await app({ admin: true });
  const breaker = server.headroom.protection.breaker(circuitBreaker({ name: 'enrichment', clock }));
  const admin = { authorization: 'Bearer operator' };
  assert.equal(
    (await server.inject({ url: '/admin/breakers', headers: { authorization: 'Bearer analyst' } }))
      .statusCode,
    403,
  );
  // A tenant's admin must not touch what every tenant shares.
  const tenantAdmin = { authorization: 'Bearer tenant-admin' };
  for (const [method, url] of [
    ['GET', '/admin/breakers'],
    ['POST', '/admin/breakers/enrichment/isolate'],
    ['DELETE', '/admin/breakers/enrichment/isolate'],
    ['POST', '/admin/breakers/enrichment/reset'],
    ['GET', '/admin/bulkheads'],
    ['GET', '/admin/caches'],
  ] as const) {
    const refused = await server.inject({ method, url, headers: tenantAdmin });
    assert.equal(refused.statusCode, 403, `${method} ${url}`);
    assert.equal(refused.json().code, 'HR_FORBIDDEN');
  }
  assert.equal(breaker.state, 'closed', 'untouched by the refused calls');

  const listed = (await server.inject({ url: '/admin/breakers', headers: admin })).json();
  assert.equal(listed.data[0].name, 'enrichment');
  assert.equal(listed.data[0].state, 'closed');
  assert.equal(listed.data[0].critical, false);

  const isolated = await server.inject({
    method: 'POST',
    url: '/admin/breakers/enrichment/isolate',
    headers: admin,
  });
  assert.equal(isolated.json().state, 'isolated');
  assert.equal(breaker.state, 'isolated');
  await server.inject({ method: 'DELETE', url: '/admin/breakers/enrichment/isolate', headers: admin });
  assert.equal(breaker.state, 'closed');

  breaker.isolate();
  const reset = await server.inject({
    method: 'POST',
    url: '/admin/breakers/enrichment/reset',
    headers: admin,
  });
  assert.equal(reset.json().state, 'closed');
  const missing = await server.inject({ method: 'POST', url: '/admin/breakers/nope/reset', headers: admin });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'HR_NOT_FOUND');
});

test('a request held up before its rate-limit check is charged when it arrived, not when the hold ended', async () => {
  const clock = new FakeClock();
  // 10 a second, one at a time: requests 100 ms apart all pass, two at the same instant do not.
  const limiter = createRateLimiter({
    clock,
    policies: [{ name: 'steady', limit: 10, window: 1_000, burst: 1 }],
  });
  const instance = Fastify();
  await instance.register(headroom, { service: 'test', version: '1.0.0', defaultMetrics: false, clock });
  const { promise: recovered, resolve: recover } = Promise.withResolvers<void>();
  let held = 0;
  await instance.register(async (api) => {
    // What authentication does while its database is frozen: the request waits before the limit sees it.
    api.addHook('onRequest', async () => {
      held++;
      await recovered;
    });
    api.addHook(
      'onRequest',
      api.headroom.protection.rateLimitHook({
        limiter,
        checks: () => [{ key: rateLimitKey({ tenant: 'acme' }, 'api'), policy: 'steady' }],
      }),
    );
    api.get('/cases', async () => ({ ok: true }));
  });
  const answers = [];
  for (let i = 0; i < 5; i++) {
    answers.push(instance.inject('/cases'));
    while (held <= i) await new Promise((resolve) => setImmediate(resolve));
    clock.advance(100);
  }
  clock.advance(2_000); // the dependency recovers two seconds later; all five reach the limit at once
  recover();
  const statuses = (await Promise.all(answers)).map((r) => r.statusCode);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200], 'each charged at its arrival, 100 ms apart');
  // And one that arrives now, right after the last was charged a whole 2 s ago, passes as well; two at once do not.
  const now = await Promise.all([instance.inject('/cases'), instance.inject('/cases')]);
  assert.deepEqual(
    now.map((r) => r.statusCode),
    [200, 429],
  );
  await instance.close();
});
