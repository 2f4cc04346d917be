import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryRateLimitStore } from './memory-store.ts';
import { rateLimitStoreContract } from './store-contract.ts';

rateLimitStoreContract('memory store', () => new MemoryRateLimitStore());

const t0 = 1_767_225_600_000;
const params = { emissionIntervalMs: 100, burst: 10 };

test('keys whose bucket is full again are swept as new writes arrive', () => {
  const store = new MemoryRateLimitStore({ maxKeys: 1_000_000 });
  // One key per millisecond, each expiring 100 ms after its write: the store holds about 100 keys, not 10 000
  // (plus what one sweep, every 8th insert, may leave).
  for (let i = 0; i < 10_000; i++) store.decideSync(`k${i}`, params, t0 + i, 1);
  assert.ok(store.size <= 100 + 8 + 16, `size ${store.size}`);
});

test('past maxKeys the least recently written key is evicted', () => {
  const store = new MemoryRateLimitStore({ maxKeys: 3 });
  for (const key of ['a', 'b', 'c']) store.decideSync(key, params, t0, 10);
  store.decideSync('a', params, t0, 0); // a read does not refresh
  store.decideSync('d', params, t0, 1);
  assert.equal(store.size, 3);
  assert.equal(
    store.decideSync('a', params, t0, 0).remaining,
    10,
    'a was evicted: it reads as a full bucket',
  );
  assert.equal(store.decideSync('b', params, t0, 0).remaining, 0, 'b is kept');
});

test('maxKeys must be an integer >= 1', () => {
  assert.throws(() => new MemoryRateLimitStore({ maxKeys: 0 }), { code: 'HR_INVALID_OPTION' });
});
