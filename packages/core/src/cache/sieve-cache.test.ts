import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SieveCache, SieveNode } from './sieve-cache.ts';

const node = (key: string, size = 1) => Object.assign(new SieveNode(), { key, size });

test('bounded by entries: a recently read entry survives, the unread oldest goes', () => {
  const lru = new SieveCache<SieveNode>({ maxEntries: 3, maxBytes: Number.POSITIVE_INFINITY });
  for (const k of ['a', 'b', 'c']) lru.set(node(k));
  lru.get('a');
  lru.set(node('d'));
  assert.deepEqual([...lru.keys()].sort(), ['a', 'c', 'd']);
  assert.equal(lru.evictions, 1);
});

test('bounded by bytes: big entries push out as many as needed; one larger than the bound is refused', () => {
  const lru = new SieveCache<SieveNode>({ maxEntries: 100, maxBytes: 100 });
  for (const k of ['a', 'b', 'c', 'd']) lru.set(node(k, 25));
  assert.equal(lru.bytes, 100);
  lru.set(node('big', 60));
  assert.ok(lru.bytes <= 100);
  assert.equal(lru.size, 2);
  assert.equal(lru.set(node('huge', 101)), false);
  assert.equal(lru.peek('huge'), undefined);
});

test('replacing and deleting keep the byte count exact', () => {
  const lru = new SieveCache<SieveNode>({ maxEntries: 10, maxBytes: 1_000 });
  lru.set(node('a', 10));
  lru.set(node('a', 30));
  assert.equal(lru.bytes, 30);
  lru.delete('a');
  assert.equal(lru.bytes, 0);
  assert.equal(lru.size, 0);
  for (let i = 0; i < 50; i++) lru.set(node(`k${i}`, 100));
  assert.equal(lru.size, 10);
  assert.equal(lru.bytes, 1_000);
});
