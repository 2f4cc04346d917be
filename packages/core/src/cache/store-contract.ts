// The contract every CacheStore passes (memory, Redis, and any store an app brings): one suite, run by each
// implementation's tests.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { bytesEtag, type StoredEntry } from './entry.ts';
import type { CacheStore } from './store.ts';

/** Makes a fresh, empty store for one test; the clock is the one the store must use for its own bookkeeping. */
export type MakeStore = (clock: FakeClock) => Promise<CacheStore> | CacheStore;

function entry(text: string, now: number, extra: Partial<StoredEntry> = {}): StoredEntry {
  const bytes = Buffer.from(text);
  return {
    bytes,
    etag: bytesEtag(bytes),
    createdAt: now,
    freshUntil: now + 1_000,
    swrUntil: now + 2_000,
    graceUntil: now + 3_000,
    notFound: false,
    tags: [],
    tagVersions: [],
    ...extra,
  };
}

/**
 * Registers the CacheStore contract as a node:test suite.
 *
 * @example
 * cacheStoreContract('memoryStore', (clock) => memoryStore({ clock }));
 * cacheStoreContract('redisStore', (clock) => redisStore({ client, prefix: `t${n++}:`, clock }));
 */
export function cacheStoreContract(name: string, makeStore: MakeStore): void {
  describe(`CacheStore contract: ${name}`, () => {
    const setup = async () => {
      const clock = new FakeClock();
      return { clock, store: await makeStore(clock), now: clock.now() };
    };

    test('an absent key answers undefined', async () => {
      const { store } = await setup();
      assert.equal(await store.get('nothing'), undefined);
    });

    test('set then get gives back the same bytes, ETag, timeline and flags', async () => {
      const { store, now } = await setup();
      const stored = entry('{"id":1,"title":"ünïcødé"}', now);
      assert.equal(await store.set('k', stored), 'stored');
      const got = await store.get('k');
      assert.ok(got);
      assert.ok(Buffer.isBuffer(got.bytes));
      assert.deepEqual(got.bytes, stored.bytes);
      assert.deepEqual({ ...got, bytes: null }, { ...stored, bytes: null });
    });

    test('bytes that are not UTF-8 survive; an empty "not found" entry round-trips', async () => {
      const { store, now } = await setup();
      const bytes = Buffer.from([0, 255, 128, 10, 13, 0xc3]);
      await store.set('bin', { ...entry('', now), bytes, etag: bytesEtag(bytes) });
      assert.deepEqual((await store.get('bin'))?.bytes, bytes);
      await store.set('nf', { ...entry('', now), notFound: true });
      const nf = await store.get('nf');
      assert.equal(nf?.notFound, true);
      assert.equal(nf?.bytes.length, 0);
    });

    test('set replaces, delete removes (absent keys are fine), keys are opaque strings', async () => {
      const { store, now } = await setup();
      const odd = 'cases|t:a%3Ab:c:ключ {x}';
      await store.set(odd, entry('one', now));
      await store.set(odd, entry('two', now));
      assert.equal((await store.get(odd))?.bytes.toString(), 'two');
      await store.set('other', entry('three', now));
      await store.delete([odd, 'never-set']);
      assert.equal(await store.get(odd), undefined);
      assert.equal((await store.get('other'))?.bytes.toString(), 'three');
    });

    test('expiry is logical: the store keeps an entry past freshUntil (the cache decides what is fresh)', async () => {
      const { store, clock, now } = await setup();
      await store.set('k', entry('v', now));
      clock.advance(2_500); // past fresh and swr, within grace
      assert.equal((await store.get('k'))?.bytes.toString(), 'v');
    });

    test('invalidateTags drops the entries carrying a tag and no others; versions only grow', async () => {
      const { store, now } = await setup();
      const [a0, b0] = await store.tagVersions(['t:acme:case%3A1', 't:beta:case%3A1']);
      assert.deepEqual([a0, b0], [0, 0]);
      await store.set('acme1', entry('a', now, { tags: ['t:acme:case%3A1'], tagVersions: [0] }));
      await store.set('beta1', entry('b', now, { tags: ['t:beta:case%3A1'], tagVersions: [0] }));
      await store.set(
        'both',
        entry('c', now, { tags: ['t:acme:x', 't:acme:case%3A1'], tagVersions: [0, 0] }),
      );
      const [v1] = await store.invalidateTags(['t:acme:case%3A1']);
      assert.ok(v1! > 0);
      assert.equal(await store.get('acme1'), undefined);
      assert.equal(await store.get('both'), undefined);
      assert.equal((await store.get('beta1'))?.bytes.toString(), 'b', "another tenant's tag is untouched");
      const [v2] = await store.invalidateTags(['t:acme:case%3A1']);
      assert.ok(v2! > v1!);
      assert.deepEqual(await store.tagVersions(['t:acme:case%3A1', 't:beta:case%3A1']), [v2, 0]);
    });

    test('an entry recorded under an old tag version is refused as outdated; a current one is stored', async () => {
      const { store, now } = await setup();
      const [v] = await store.invalidateTags(['t:acme:case%3A2']);
      const old = entry('old', now, { tags: ['t:acme:case%3A2'], tagVersions: [0] });
      assert.equal(await store.set('k', old), 'outdated');
      assert.equal(await store.get('k'), undefined);
      const current = entry('new', now, { tags: ['t:acme:case%3A2'], tagVersions: [v!] });
      assert.equal(await store.set('k', current), 'stored');
      assert.equal((await store.get('k'))?.bytes.toString(), 'new');
    });

    test('a lease goes to one token at a time; only its holder releases it', async () => {
      const { store } = await setup();
      assert.equal(await store.acquireLease('k', 'A', 10_000), true);
      assert.equal(await store.acquireLease('k', 'B', 10_000), false);
      await store.releaseLease('k', 'B');
      assert.equal(await store.acquireLease('k', 'C', 10_000), false, 'a wrong token released nothing');
      await store.releaseLease('k', 'A');
      assert.equal(await store.acquireLease('k', 'C', 10_000), true);
      assert.equal(await store.acquireLease('other', 'D', 10_000), true, 'leases are per key');
    });

    test('a write under a lease lands only while the token holds it, and frees the lease', async () => {
      const { store, now } = await setup();
      await store.acquireLease('k', 'A', 10_000);
      assert.equal(await store.set('k', entry('from B', now), { lease: 'B' }), 'fenced');
      assert.equal(await store.get('k'), undefined);
      assert.equal(await store.set('k', entry('from A', now), { lease: 'A' }), 'stored');
      assert.equal((await store.get('k'))?.bytes.toString(), 'from A');
      assert.equal(await store.acquireLease('k', 'C', 10_000), true, 'the write released the lease');
      assert.equal(
        await store.set('x', entry('no lease', now), { lease: 'Z' }),
        'fenced',
        'no lease held at all',
      );
    });

    test('an unconditional write drops the lease, so the load in flight is fenced and cannot overwrite it', async () => {
      const { store, now } = await setup();
      await store.acquireLease('k', 'loader', 10_000);
      assert.equal(await store.set('k', entry('explicit', now)), 'stored');
      assert.equal(await store.set('k', entry('late load', now), { lease: 'loader' }), 'fenced');
      assert.equal((await store.get('k'))?.bytes.toString(), 'explicit');
    });

    test('clear empties entries, leases and tag versions', async () => {
      const { store, now } = await setup();
      await store.set('k', entry('v', now));
      await store.acquireLease('l', 'A', 10_000);
      await store.invalidateTags(['t:acme:z']);
      await store.clear();
      assert.equal(await store.get('k'), undefined);
      assert.equal(await store.acquireLease('l', 'B', 10_000), true);
      assert.deepEqual(await store.tagVersions(['t:acme:z']), [0]);
    });
  });
}
