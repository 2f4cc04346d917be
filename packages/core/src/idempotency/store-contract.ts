// The behaviour every IdempotencyStore must show, as a node:test suite: run it against each implementation.
// Not exported from index.ts, so production imports never load node:test; import this file from tests.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { IdempotencyStore, StoredResponse } from './store.ts';

const t0 = 1_767_225_600_000;
const lockTtl = 60_000;
const day = 86_400_000;
const created: StoredResponse = {
  status: 201,
  headers: { location: '/v1/cases/7', etag: '"1-abc"', 'content-type': 'application/json; charset=utf-8' },
  body: '{"id":7,"title":"ünïcode ✓"}',
};

/**
 * Registers the store contract under `describe(name)`. `makeStore` is called once per test; keys are unique
 * per test, so a shared backend needs no cleaning between tests.
 *
 * @example
 * idempotencyStoreContract('memory store', () => new MemoryIdempotencyStore());
 */
export function idempotencyStoreContract(
  name: string,
  makeStore: () => IdempotencyStore | Promise<IdempotencyStore>,
): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    const fresh = () => `contract-${randomUUID()}`;
    const begin = (
      store: IdempotencyStore,
      key: string,
      fingerprint: string,
      now: number,
      token: string = randomUUID(),
    ) => store.begin({ key, fingerprint, token, now, lockTtl });

    test('the first request takes the key; a second while it runs is in flight, told when the lock lapses', async () => {
      const store = await makeStore();
      const key = fresh();
      assert.equal((await begin(store, key, 'f1', t0, 'tok-1')).outcome, 'acquired');
      const second = await begin(store, key, 'f1', t0 + 1_000);
      assert.deepEqual(second, { outcome: 'in-flight', retryAfterMs: lockTtl - 1_000 });
    });

    test('the same key with another fingerprint is a mismatch, while running and once complete', async () => {
      const store = await makeStore();
      const key = fresh();
      await begin(store, key, 'f1', t0, 'tok-1');
      assert.deepEqual(await begin(store, key, 'f2', t0 + 1), { outcome: 'mismatch' });
      assert.equal(await store.complete(key, 'tok-1', created, t0 + 2, day), true);
      assert.deepEqual(await begin(store, key, 'f2', t0 + 3), { outcome: 'mismatch' });
    });

    test('a completed answer is replayed whole: status, headers, body', async () => {
      const store = await makeStore();
      const key = fresh();
      await begin(store, key, 'f1', t0, 'tok-1');
      assert.equal(await store.complete(key, 'tok-1', created, t0 + 5, day), true);
      assert.deepEqual(await begin(store, key, 'f1', t0 + 10), { outcome: 'completed', response: created });
      const binary = fresh();
      const bytes = {
        status: 200,
        headers: {},
        body: Buffer.from([0, 255, 1]).toString('base64'),
        binary: true,
      };
      await begin(store, binary, 'f1', t0, 'tok-2');
      await store.complete(binary, 'tok-2', bytes, t0, day);
      assert.deepEqual(await begin(store, binary, 'f1', t0 + 1), { outcome: 'completed', response: bytes });
    });

    test('a released key is free again at once', async () => {
      const store = await makeStore();
      const key = fresh();
      await begin(store, key, 'f1', t0, 'tok-1');
      await store.release(key, 'tok-1');
      assert.equal((await begin(store, key, 'f1', t0 + 1)).outcome, 'acquired');
    });

    test('a lapsed lock is taken over; the request that lost it can neither complete nor release', async () => {
      const store = await makeStore();
      const key = fresh();
      await begin(store, key, 'f1', t0, 'slow');
      assert.equal((await begin(store, key, 'f1', t0 + lockTtl, 'fast')).outcome, 'acquired');
      assert.equal(await store.complete(key, 'slow', created, t0 + lockTtl + 1, day), false);
      await store.release(key, 'slow');
      assert.equal(
        (await begin(store, key, 'f1', t0 + lockTtl + 2)).outcome,
        'in-flight',
        'still held by "fast"',
      );
      assert.equal(await store.complete(key, 'fast', created, t0 + lockTtl + 3, day), true);
      assert.equal(
        await store.complete(key, 'fast', created, t0 + lockTtl + 4, day),
        false,
        'completes once',
      );
      await store.release(key, 'fast');
      assert.equal(
        (await begin(store, key, 'f1', t0 + lockTtl + 5)).outcome,
        'completed',
        'release after complete keeps it',
      );
    });

    test('a record past its retention is as good as absent, and sweep removes it', async () => {
      const store = await makeStore();
      const key = fresh();
      await begin(store, key, 'f1', t0, 'tok-1');
      await store.complete(key, 'tok-1', created, t0, 1_000);
      assert.equal((await begin(store, key, 'f1', t0 + 999)).outcome, 'completed');
      assert.equal(
        (await begin(store, key, 'f2', t0 + 1_000, 'tok-2')).outcome,
        'acquired',
        'expired: any request may take it',
      );
      const swept = fresh();
      await begin(store, swept, 'f1', t0, 'tok-3');
      await store.complete(swept, 'tok-3', created, t0, 1_000);
      assert.ok((await store.sweep(t0 + 2_000)) >= 0);
      assert.equal((await begin(store, swept, 'f9', t0 + 2_000)).outcome, 'acquired');
    });

    test('of many requests with one key at once, exactly one takes it', async () => {
      const store = await makeStore();
      const key = fresh();
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => begin(store, key, 'f1', t0)));
      assert.equal(outcomes.filter((o) => o.outcome === 'acquired').length, 1);
      assert.equal(outcomes.filter((o) => o.outcome === 'in-flight').length, 19);
    });
  });
}
