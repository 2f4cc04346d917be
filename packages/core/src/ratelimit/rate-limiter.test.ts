import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import type { GcraParams, StoreDecision } from './gcra.ts';
import { MemoryRateLimitStore } from './memory-store.ts';
import { type RateLimitKey, rateLimitKey } from './rate-limit-key.ts';
import { createRateLimiter, type RateLimitFallbackEvent } from './rate-limiter.ts';
import type { RateLimitStore } from './store.ts';
import { tierPolicies } from './tier-policies.ts';

const pro = { name: 'pro', limit: 600, window: 60_000, burst: 10 };
const key = rateLimitKey({ tenant: 'acme' }, 'search');

/** A store that works, fails or hangs as the test says. */
class ScriptedStore implements RateLimitStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  calls = 0;
  readonly inner = new MemoryRateLimitStore();
  decide(key: string, params: GcraParams, now: number, cost: number): Promise<StoreDecision> {
    this.calls++;
    if (this.mode === 'fail') return Promise.reject(new Error('ECONNREFUSED'));
    if (this.mode === 'hang') return new Promise(() => {});
    return this.inner.decide(key, params, now, cost);
  }
}

test('burst, then the sustained rate: remaining, reset and the exact retry delay', async () => {
  const clock = new FakeClock();
  const limiter = createRateLimiter({ clock, policies: [pro] });
  for (let i = 1; i <= 10; i++) {
    const d = await limiter.check(key, 'pro');
    assert.deepEqual([d.allowed, d.remaining, d.resetMs], [true, 10 - i, i * 100]);
  }
  const limited = await limiter.check(key, 'pro');
  assert.deepEqual(
    {
      allowed: limited.allowed,
      remaining: limited.remaining,
      retry: limited.retryAfterMs,
      limit: limited.limit,
    },
    { allowed: false, remaining: 0, retry: 100, limit: 600 },
  );
  assert.equal(limited.policy.name, 'pro');
  clock.advance(99);
  assert.equal((await limiter.check(key, 'pro')).allowed, false);
  clock.advance(1);
  assert.equal((await limiter.check(key, 'pro')).allowed, true, 'one cell after exactly 100 ms');
  // Sustained: one request every 100 ms is always allowed, never more.
  for (let i = 0; i < 50; i++) {
    clock.advance(100);
    assert.equal((await limiter.check(key, 'pro')).allowed, true);
    assert.equal((await limiter.check(key, 'pro')).allowed, false);
  }
  clock.advance(1000);
  assert.equal(
    (await limiter.check(key, 'pro', { cost: 0 })).remaining,
    10,
    'refilled after burst × interval',
  );
});

test('cost > 1 takes several cells; a cost above the burst is a programming error', async () => {
  const clock = new FakeClock();
  const limiter = createRateLimiter({ clock, policies: [pro] });
  assert.equal((await limiter.check(key, 'pro', { cost: 8 })).remaining, 2);
  const limited = await limiter.check(key, 'pro', { cost: 3 });
  assert.deepEqual([limited.allowed, limited.retryAfterMs], [false, 100]);
  clock.advance(100);
  assert.equal((await limiter.check(key, 'pro', { cost: 3 })).allowed, true);
  await assert.rejects(limiter.check(key, 'pro', { cost: 11 }), { code: 'HR_INVALID_OPTION' });
  await assert.rejects(limiter.check(key, 'pro', { cost: -1 }), { code: 'HR_INVALID_OPTION' });
});

test('unknown policies and raw string keys are refused', async () => {
  const limiter = createRateLimiter({ clock: new FakeClock(), policies: [pro] });
  await assert.rejects(limiter.check(key, 'enterprise'), { code: 'HR_RATE_LIMIT_UNKNOWN_POLICY' });
  await assert.rejects(limiter.check('acme:search' as RateLimitKey, 'pro'), { code: 'HR_INVALID_OPTION' });
  assert.throws(() => createRateLimiter({ policies: [pro, pro] }), /distinct names/);
  assert.throws(() => createRateLimiter({ storeTimeout: 0 }), /storeTimeout/);
});

test('the old option names still work for one release, with a DeprecationWarning naming the new one', (t) => {
  const warned = t.mock.method(process, 'emitWarning', () => {});
  // The old name's value is read (and checked like the new one's)...
  assert.throws(() => createRateLimiter({ storeTimeoutMs: 0 }), /storeTimeout/);
  createRateLimiter({ cooldownMs: 500 });
  const warnings = warned.mock.calls.map((c) => [String(c.arguments[0]), c.arguments[1]]);
  assert.deepEqual(warnings, [
    [
      'rateLimiter: option "storeTimeoutMs" is deprecated and goes in the next release; use "storeTimeout"',
      { type: 'DeprecationWarning', code: 'HR_DEPRECATED_OPTION' },
    ],
    [
      'rateLimiter: option "cooldownMs" is deprecated and goes in the next release; use "storeCooldown"',
      { type: 'DeprecationWarning', code: 'HR_DEPRECATED_OPTION' },
    ],
  ]);
  // ...and the new name wins when both are set.
  assert.doesNotThrow(() => createRateLimiter({ storeTimeout: 50, storeTimeoutMs: 0 }));
});

test('checkSync decides at once on a memory store, shares its buckets with check, and defers to check on a remote store', async () => {
  const clock = new FakeClock();
  const limiter = createRateLimiter({ clock, policies: [pro] });
  const seen: boolean[] = [];
  limiter.onDecision((e) => seen.push(e.decision.allowed));
  for (let i = 0; i < 5; i++) assert.equal(limiter.checkSync(key, 'pro')?.allowed, true);
  for (let i = 0; i < 5; i++) assert.equal((await limiter.check(key, 'pro')).allowed, true);
  const limited = limiter.checkSync(key, 'pro');
  assert.equal(limited?.allowed, false);
  assert.equal(limited?.retryAfterMs, 100);
  assert.equal(seen.length, 11, 'every sync decision is an event, as with check');
  assert.throws(() => limiter.checkSync(key, 'enterprise'), { code: 'HR_RATE_LIMIT_UNKNOWN_POLICY' });
  assert.throws(() => limiter.checkSync('acme:search' as RateLimitKey, 'pro'), { code: 'HR_INVALID_OPTION' });
  assert.throws(() => limiter.checkSync(key, 'pro', { cost: 11 }), { code: 'HR_INVALID_OPTION' });

  const remote = createRateLimiter({ clock, store: new ScriptedStore(), policies: [pro] });
  assert.equal(remote.checkSync(key, 'pro'), undefined);
  assert.equal((await remote.check(key, 'pro')).allowed, true);
});

test('two tenants never share a bucket, whatever their ids contain; nor do two policies on one key', async () => {
  const limiter = createRateLimiter({ clock: new FakeClock(), policies: [pro, { ...pro, name: 'other' }] });
  const a = rateLimitKey({ tenant: 'a:b' }, 'search');
  const b = rateLimitKey({ tenant: 'a' }, 'b:search');
  for (let i = 0; i < 10; i++) await limiter.check(a, 'pro');
  assert.equal((await limiter.check(a, 'pro')).allowed, false);
  assert.equal((await limiter.check(b, 'pro')).remaining, 9);
  assert.equal((await limiter.check(a, 'other')).remaining, 9);
});

test('a failing store: insurance decides, nothing throws, the store is skipped for the cooldown, then used again', async () => {
  const clock = new FakeClock();
  const store = new ScriptedStore();
  const limiter = createRateLimiter({ clock, store, policies: [pro], storeCooldown: 1000 });
  const fallbacks: RateLimitFallbackEvent['reason'][] = [];
  const errors: string[] = [];
  const recoveries: number[] = [];
  limiter.onFallback((e) => fallbacks.push(e.reason));
  limiter.onStoreError((e) => errors.push(e.error.code));
  limiter.onRecover((e) => recoveries.push(e.downMs));

  assert.equal((await limiter.check(key, 'pro')).allowed, true);
  store.mode = 'fail';
  const first = await limiter.check(key, 'pro');
  assert.equal(first.allowed, true);
  assert.equal(store.calls, 2);
  for (let i = 0; i < 20; i++) await limiter.check(key, 'pro');
  assert.equal(store.calls, 2, 'the open circuit skips the store');
  assert.deepEqual(errors, ['HR_RATE_LIMIT_STORE_FAILED']);
  assert.deepEqual(fallbacks.slice(0, 2), ['error', 'circuit-open']);
  assert.equal(limiter.stats.fallbackDecisions, 21);
  assert.equal(limiter.stats.circuit, 'open');
  assert.equal(limiter.stats.decisions, 22);

  clock.advance(1000);
  await limiter.check(key, 'pro'); // the probe fails: another cooldown
  assert.equal(store.calls, 3);
  store.mode = 'ok';
  clock.advance(999);
  await limiter.check(key, 'pro');
  assert.equal(store.calls, 3);
  clock.advance(1);
  let source = '';
  const sub = limiter.onDecision((e) => {
    source = e.source;
  });
  await limiter.check(key, 'pro');
  sub.dispose();
  assert.equal(source, 'store');
  assert.deepEqual(recoveries, [2000]);
  assert.equal(limiter.stats.circuit, 'closed');
  assert.equal(limiter.stats.storeErrors, 2);
});

test('a hung store: the decision comes from insurance at the store timeout, measured on the clock', async () => {
  const clock = new FakeClock();
  const store = new ScriptedStore();
  store.mode = 'hang';
  const limiter = createRateLimiter({ clock, store, policies: [pro], storeTimeout: 50 });
  let decided = false;
  const pending = limiter.check(key, 'pro').then((d) => {
    decided = true;
    return d;
  });
  await clock.tick(49);
  assert.equal(decided, false);
  await clock.tick(1);
  assert.equal((await pending).allowed, true);
  assert.equal(limiter.stats.storeTimeouts, 1);
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('insuranceDivisor: each instance enforces its share while the store is down', async () => {
  const store = new ScriptedStore();
  store.mode = 'fail';
  const limiter = createRateLimiter({ clock: new FakeClock(), store, policies: [pro], insuranceDivisor: 4 });
  let allowed = 0;
  for (let i = 0; i < 10; i++) if ((await limiter.check(key, 'pro')).allowed) allowed++;
  assert.equal(allowed, 3, 'burst 10 / 4 instances, rounded up');
});

test('an aborted signal rejects with HR_ABORTED, before and while waiting for the store', async () => {
  const clock = new FakeClock();
  const store = new ScriptedStore();
  const limiter = createRateLimiter({ clock, store, policies: [pro] });
  await assert.rejects(limiter.check(key, 'pro', { signal: AbortSignal.abort() }), { code: 'HR_ABORTED' });
  store.mode = 'hang';
  const controller = new AbortController();
  const pending = limiter.check(key, 'pro', { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, { code: 'HR_ABORTED' });
});

test('tierPolicies picks by tier and falls back to the named tier for unknown ones', async () => {
  const byTier = tierPolicies(
    {
      free: { name: 'free', limit: 60, window: 60_000 },
      pro: { name: 'pro', limit: 600, window: 60_000 },
      enterprise: { name: 'enterprise', limit: 6000, window: 60_000, burst: 1000 },
    },
    { fallback: 'free' },
  );
  assert.equal(byTier('pro').limit, 600);
  assert.equal(byTier('platinum').name, 'free');
  assert.equal(byTier(undefined).name, 'free');
  assert.equal(byTier.policies.length, 3);
  const limiter = createRateLimiter({ clock: new FakeClock(), policies: byTier.policies });
  assert.equal((await limiter.check(key, byTier('enterprise'))).remaining, 999);
  assert.equal((await limiter.check(key, 'enterprise')).remaining, 998, 'by name or by object: one bucket');
  assert.throws(() => tierPolicies<string>({ free: pro }, { fallback: 'pro' }), /fallback/);
});

test('`at` charges a request when it arrived: within the last minute, never ahead of the clock', async () => {
  const clock = new FakeClock({ now: 1_000_000 });
  const steady = { name: 'steady', limit: 10, window: 1_000, burst: 1 };
  const local = createRateLimiter({ clock, policies: [steady] });
  const remote = createRateLimiter({ clock, policies: [steady], store: new ScriptedStore() });
  const t = clock.now();
  for (const l of [local, remote]) {
    const k = rateLimitKey({ tenant: l === local ? 'local' : 'remote' }, 'api');
    // Ten held requests that arrived 100 ms apart, checked together now: each is charged at its arrival.
    for (let i = 0; i < 10; i++)
      assert.equal((await l.check(k, 'steady', { at: t - 1_000 + i * 100 })).allowed, true);
    // The same ten charged now (no `at`) would leave most of them refused.
    const unheld = rateLimitKey({ tenant: `${l === local ? 'local' : 'remote'}-now` }, 'api');
    let allowed = 0;
    for (let i = 0; i < 10; i++) if ((await l.check(unheld, 'steady')).allowed) allowed++;
    assert.ok(allowed <= 2, `${allowed} of 10 at one instant`);
  }
  const strip = ({ policy: _, ...d }: { policy: unknown }) => d;
  const ahead = rateLimitKey({ tenant: 'ahead' }, 'api');
  const present = rateLimitKey({ tenant: 'present' }, 'api');
  assert.deepEqual(
    strip(local.checkSync(ahead, 'steady', { at: t + 60_000 })!),
    strip(local.checkSync(present, 'steady', { at: t })!),
    'ahead of the clock counts as now',
  );
  const old = rateLimitKey({ tenant: 'old' }, 'api');
  assert.equal(local.checkSync(old, 'steady', { at: t - 3_600_000 })?.allowed, true);
  // Charged a minute back, not an hour: a second apart an hour ago, the same instant once clamped.
  assert.equal(local.checkSync(old, 'steady', { at: t - 3_599_000 })?.allowed, false);
});
