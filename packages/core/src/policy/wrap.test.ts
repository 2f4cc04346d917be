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

/** A policy written without Headroom: runs the function up to twice, with a signal of its own. */
class RetryOnceWithOwnSignal {
  calls = 0;
  readonly signals: AbortController[] = [];

  async execute<T>(
    fn: (context: { signal: AbortSignal }) => Promise<T> | T,
    signal?: AbortSignal,
  ): Promise<T> {
    this.calls++;
    for (let attempt = 0; ; attempt++) {
      const own = new AbortController();
      this.signals.push(own);
      signal?.addEventListener('abort', () => own.abort(signal.reason), { once: true });
      try {
        return await fn({ signal: own.signal });
      } catch (error) {
        if (attempt === 1 || signal?.aborted) throw error;
      }
    }
  }
}

test('a policy written without Headroom composes: its own signal and retries reach the layers inside it', async () => {
  const clock = new FakeClock();
  const own = new RetryOnceWithOwnSignal();
  const breaker = circuitBreaker({ clock, minimumCalls: 10 });
  const policy = wrap(timeout({ duration: 1_000, clock }), own, breaker);
  const seen: AbortSignal[] = [];
  let tries = 0;
  const value = await policy.execute(({ signal }) => {
    seen.push(signal);
    if (++tries === 1) throw new Error('first try fails');
    return 'second try';
  });
  assert.equal(value, 'second try');
  assert.equal(own.calls, 1);
  assert.equal(
    breaker.stats().window.calls,
    2,
    'both tries ran through the breaker inside the foreign layer',
  );
  assert.deepEqual(
    seen,
    [own.signals[0]?.signal, own.signals[1]?.signal],
    'the function got the foreign signals',
  );

  // The outer timeout aborts the foreign policy's signal, and so the function inside it.
  const hung = policy.execute(
    ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
  );
  const timedOut = assert.rejects(hung, isTimeoutError);
  await clock.tick(1_000);
  await timedOut;
  assert.ok(own.signals.at(-1)?.signal.aborted);
});

test('a foreign policy that hands no context still runs the inner layers, under the outer signal', async () => {
  const clock = new FakeClock();
  const passThrough = { execute: <T>(fn: () => T) => Promise.resolve(fn()) };
  const policy = wrap(passThrough, timeout({ duration: 50, clock }));
  let inner: AbortSignal | undefined;
  const call = policy.execute(({ signal }) => {
    inner = signal;
    return new Promise(() => {});
  });
  const timedOut = assert.rejects(call, isTimeoutError);
  await clock.tick(50);
  await timedOut;
  assert.ok(inner?.aborted);
});

test('wrap refuses what is not a policy', () => {
  assert.throws(
    () => wrap({ run: async () => 1 } as never),
    (e: unknown) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION',
  );
  assert.throws(() => (wrap as (...p: unknown[]) => unknown)(), /at least one policy/);
});
