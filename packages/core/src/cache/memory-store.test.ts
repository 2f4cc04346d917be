import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { bytesEtag, type StoredEntry } from './entry.ts';
import { memoryStore } from './memory-store.ts';
import { cacheStoreContract } from './store-contract.ts';

cacheStoreContract('memoryStore', (clock) => memoryStore({ clock }));

const entry = (now: number, size = 10): StoredEntry => {
  const bytes = Buffer.alloc(size, 'x');
  return {
    bytes,
    etag: bytesEtag(bytes),
    createdAt: now,
    freshUntil: now + 1_000,
    swrUntil: now + 1_000,
    graceUntil: now + 1_000,
    notFound: false,
    tags: [],
    tagVersions: [],
  };
};

test('a lease expires after its ttl on the injected clock', async () => {
  const clock = new FakeClock();
  const store = memoryStore({ clock });
  assert.equal(await store.acquireLease('k', 'A', 500), true);
  clock.advance(499);
  assert.equal(await store.acquireLease('k', 'B', 500), false);
  clock.advance(1);
  assert.equal(await store.acquireLease('k', 'B', 500), true);
  assert.equal(
    await store.set('k', entry(clock.now()), { lease: 'A' }),
    'fenced',
    'the expired holder is fenced',
  );
});

test('entries are dropped gcMargin after their last servable moment', async () => {
  const clock = new FakeClock();
  const store = memoryStore({ clock, gcMargin: 100 });
  await store.set('k', entry(clock.now()));
  clock.advance(1_099);
  assert.ok(await store.get('k'));
  clock.advance(1);
  assert.equal(await store.get('k'), undefined);
});

test('bounded by entries and by bytes', async () => {
  const clock = new FakeClock();
  const byCount = memoryStore({ clock, maxEntries: 3 });
  for (const k of ['a', 'b', 'c', 'd']) await byCount.set(k, entry(clock.now()));
  assert.equal(byCount.stats().entries, 3);
  const byBytes = memoryStore({ clock, maxBytes: 3 * (160 + 2 + 1_000) });
  for (const k of ['a', 'b', 'c', 'd', 'e']) await byBytes.set(k, entry(clock.now(), 1_000));
  assert.equal(byBytes.stats().entries, 3);
  assert.ok(byBytes.stats().bytes <= 3 * 1_162);
});
