import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { isHeadroomError } from '../errors/index.ts';
import { bulkhead } from './bulkhead.ts';
import { circuitBreaker } from './circuit-breaker.ts';
import { isBrokenCircuitError, isTimeoutError } from './errors.ts';
import { fallback } from './fallback.ts';
import { retry } from './retry.ts';
import { timeout } from './timeout.ts';
import { wrap } from './wrap.ts';

test('layers run outermost first: a per-attempt timeout inside retry gives each attempt its own deadline', async () => {
  const clock = new FakeClock();
  const policy = wrap(retry({ maxAttempts: 3, initialDelay: 0, clock }), timeout({ duration: 100, clock }));
  const seen: number[] = [];
  const call = policy.execute(({ attempt }) => {
    seen.push(attempt);
    if (attempt < 2) return new Promise(() => {}); // hangs: the timeout ends it, the retry tries again
    return 'third attempt';
  });
  await clock.tick(250);
  assert.equal(await call, 'third attempt');
  assert.deepEqual(seen, [0, 1, 2]);
});

test('fallback outermost answers for an open breaker, and the substitute type joins the result type', async () => {
  const clock = new FakeClock();
  const breaker = circuitBreaker({ minimumCalls: 1, clock });
  const errors: unknown[] = [];
  const policy = wrap(
    fallback({
      to: (e) => {
        errors.push(e);
        return { partial: true as const };
      },
    }),
    breaker,
    timeout({ duration: 50, clock }),
  );
  const first = policy.execute(() => new Promise<{ partial: false }>(() => {}));
  await clock.tick(50);
  assert.deepEqual(await first, { partial: true });
  assert.ok(isTimeoutError(errors[0]));
  assert.equal(breaker.state, 'open');
  const second: { partial: boolean } = await policy.execute(async () => ({ partial: false as const }));
  assert.deepEqual(second, { partial: true });
  assert.ok(isBrokenCircuitError(errors[1]));
});

test('a wrap nests inside another wrap, and the tenant key reaches the bulkhead through every layer', async () => {
  const clock = new FakeClock();
  const pool = bulkhead({ maxConcurrent: 1, clock });
  const inner = wrap(circuitBreaker({ clock }), pool);
  const outer = wrap(retry({ maxAttempts: 1, clock }), inner, timeout({ duration: 1_000, clock }));
  assert.equal(outer.policies.length, 4, 'nested layers are flattened');
  let keySeen: string | undefined;
  const call = outer.execute(
    ({ key }) => {
      keySeen = key;
      return new Promise<string>((r) => clock.setTimeout(() => r('done'), 10));
    },
    { key: 'acme' },
  );
  await clock.tick(0);
  assert.deepEqual(pool.stats().keys, { acme: { inflight: 1, queued: 0 } });
  await clock.tick(10);
  assert.equal(await call, 'done');
  assert.equal(keySeen, 'acme');
});

test('wrap refuses what is not a policy', () => {
  assert.throws(
    () => wrap({ execute: async () => 1 } as never),
    (e: unknown) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION',
  );
  assert.throws(() => (wrap as (...p: unknown[]) => unknown)(), /at least one policy/);
});
