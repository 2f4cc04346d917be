// The behaviour every RateLimitStore must show, as a node:test suite: run it against each implementation.
// Not exported from index.ts, so production imports never load node:test; import this file from tests.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { type GcraParams, gcra, type StoreDecision } from './gcra.ts';
import type { RateLimitStore } from './store.ts';

const t0 = 1_767_225_600_000;
const perMinute600: GcraParams = { emissionIntervalMs: 100, burst: 600 };

const strip = ({ allowed, remaining, resetMs, retryAfterMs }: StoreDecision): StoreDecision => ({
  allowed,
  remaining,
  resetMs,
  retryAfterMs,
});

/**
 * Registers the store contract under `describe(name)`. `makeStore` is called once per test; keys are unique
 * per test, so a shared backend (one Redis) needs no cleaning between tests.
 *
 * @example
 * rateLimitStoreContract('memory store', () => new MemoryRateLimitStore());
 * rateLimitStoreContract('redis store', () => new RedisRateLimitStore(client));
 */
export function rateLimitStoreContract(
  name: string,
  makeStore: () => RateLimitStore | Promise<RateLimitStore>,
): void {
  describe(name, () => {
    const fresh = () => `contract/${randomUUID()}`;

    test('a fresh key allows the whole burst at once, then limits with the exact retry delay', async () => {
      const store = await makeStore();
      const key = fresh();
      const params = { emissionIntervalMs: 1000, burst: 5 };
      for (let i = 1; i <= 5; i++) {
        const d = await store.decide(key, params, t0, 1);
        assert.deepEqual(strip(d), { allowed: true, remaining: 5 - i, resetMs: i * 1000, retryAfterMs: 0 });
      }
      const limited = await store.decide(key, params, t0, 1);
      assert.deepEqual(strip(limited), { allowed: false, remaining: 0, resetMs: 5000, retryAfterMs: 1000 });
    });

    test('a limited request consumes nothing; the sustained rate refills one cell per interval', async () => {
      const store = await makeStore();
      const key = fresh();
      const params = { emissionIntervalMs: 1000, burst: 2 };
      await store.decide(key, params, t0, 1);
      await store.decide(key, params, t0, 1);
      for (let i = 0; i < 3; i++) assert.equal((await store.decide(key, params, t0 + 500, 1)).allowed, false);
      const retry = await store.decide(key, params, t0 + 999, 1);
      assert.deepEqual(strip(retry), { allowed: false, remaining: 0, resetMs: 1001, retryAfterMs: 1 });
      assert.deepEqual(strip(await store.decide(key, params, t0 + 1000, 1)), {
        allowed: true,
        remaining: 0,
        resetMs: 2000,
        retryAfterMs: 0,
      });
      assert.equal((await store.decide(key, params, t0 + 1000, 1)).allowed, false);
      const full = await store.decide(key, params, t0 + 10_000, 1);
      assert.deepEqual(strip(full), { allowed: true, remaining: 1, resetMs: 1000, retryAfterMs: 0 });
    });

    test('cost takes several cells at once, and is refused whole when fewer are left', async () => {
      const store = await makeStore();
      const key = fresh();
      const params = { emissionIntervalMs: 100, burst: 10 };
      assert.deepEqual(strip(await store.decide(key, params, t0, 7)), {
        allowed: true,
        remaining: 3,
        resetMs: 700,
        retryAfterMs: 0,
      });
      assert.deepEqual(strip(await store.decide(key, params, t0, 4)), {
        allowed: false,
        remaining: 3,
        resetMs: 700,
        retryAfterMs: 100,
      });
      assert.equal((await store.decide(key, params, t0 + 100, 4)).allowed, true);
    });

    test('cost 0 reads the bucket without consuming', async () => {
      const store = await makeStore();
      const key = fresh();
      const params = { emissionIntervalMs: 100, burst: 3 };
      assert.deepEqual(strip(await store.decide(key, params, t0, 0)), {
        allowed: true,
        remaining: 3,
        resetMs: 0,
        retryAfterMs: 0,
      });
      await store.decide(key, params, t0, 2);
      assert.equal((await store.decide(key, params, t0, 0)).remaining, 1);
      assert.equal((await store.decide(key, params, t0, 0)).remaining, 1);
    });

    test('keys are independent', async () => {
      const store = await makeStore();
      const [a, b] = [fresh(), fresh()];
      const params = { emissionIntervalMs: 1000, burst: 1 };
      assert.equal((await store.decide(a, params, t0, 1)).allowed, true);
      assert.equal((await store.decide(a, params, t0, 1)).allowed, false);
      assert.equal((await store.decide(b, params, t0, 1)).allowed, true);
    });

    test('a fractional emission interval (7 per minute) keeps exact arithmetic', async () => {
      const store = await makeStore();
      const key = fresh();
      const params = { emissionIntervalMs: 60_000 / 7, burst: 7 };
      for (let i = 0; i < 7; i++) assert.equal((await store.decide(key, params, t0, 1)).allowed, true);
      const limited = await store.decide(key, params, t0, 1);
      assert.deepEqual(strip(limited), { allowed: false, remaining: 0, resetMs: 60_000, retryAfterMs: 8572 });
      // 7 intervals later the bucket is exactly full again, not one cell short through rounding.
      const later = await store.decide(key, params, t0 + 60_000, 0);
      assert.equal(later.remaining, 7);
    });

    test('agrees with the reference GCRA over a long random sequence', async () => {
      const store = await makeStore();
      const key = fresh();
      const params = perMinute600;
      let seed = 42;
      const random = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
      let now = t0;
      let tat: number | undefined;
      for (let i = 0; i < 400; i++) {
        now += Math.floor(random() * 150);
        const cost = Math.floor(random() * 4);
        const expected = gcra(tat, now, params, cost);
        if (expected.allowed && cost > 0) tat = expected.tat;
        assert.deepEqual(strip(await store.decide(key, params, now, cost)), strip(expected), `step ${i}`);
      }
    });
  });
}
