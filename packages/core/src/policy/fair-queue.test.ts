import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { fairQueue } from './fair-queue.ts';

const refusal = (key: string, reason: string) =>
  Object.assign(new Error(`${key}: ${reason}`), { key, reason });

test('a freed slot goes to the waiting key that holds the fewest, round-robin among equals', async () => {
  const slots = fairQueue({ maxConcurrent: 2, maxQueue: 10 }, refusal);
  assert.ok(slots.tryTake('a') && slots.tryTake('a'));
  const order: string[] = [];
  const wait = (key: string) => slots.take(key).then(() => order.push(key));
  const waits = [wait('a'), wait('a'), wait('b'), wait('c')];
  assert.deepEqual(slots.stats(), {
    inflight: 2,
    queued: 4,
    keys: { a: { inflight: 2, queued: 2 }, b: { inflight: 0, queued: 1 }, c: { inflight: 0, queued: 1 } },
  });
  slots.release('a'); // b and c hold none, a holds one: b first (it queued first)
  await Promise.resolve();
  slots.release('a'); // now a 0, b 1, c 0: a and c tie at 0, a is next in the round
  await Promise.resolve();
  slots.release('b');
  slots.release('a');
  await Promise.all(waits);
  assert.deepEqual(order, ['b', 'a', 'c', 'a']);
});

test('maxPerKey caps one key even when the rest is idle; a capped key is skipped, not blocking others', async () => {
  const slots = fairQueue({ maxConcurrent: 4, maxPerKey: 1, maxQueue: 4 }, refusal);
  assert.equal(slots.tryTake('a'), true);
  assert.equal(slots.tryTake('a'), false, 'a holds its one slot');
  const second = slots.take('a');
  assert.equal(slots.tryTake('b'), true, 'b is not held up by a’s waiter');
  slots.release('a');
  await second;
  assert.equal(slots.stats().keys.a?.inflight, 1);
});

test('a full queue refuses, or evicts the newest waiter of the key with the most places for a lighter key', async () => {
  const slots = fairQueue({ maxConcurrent: 1, maxQueue: 3 }, refusal);
  slots.tryTake('x');
  const flood = [slots.take('a'), slots.take('a'), slots.take('a')].map((p) => p.catch((e) => e));
  await assert.rejects(slots.take('a'), { reason: 'full', key: 'a' }, 'a holds every place: refused');
  const b = slots.take('b');
  assert.equal((await flood[2]).reason, 'evicted', 'the newest of a’s waiters made room for b');
  assert.equal(slots.queued, 3);
  slots.release('x'); // a and b hold none: a is first in the round, and a served key goes to the back
  await flood[0];
  slots.release('a');
  await b; // b's turn before a's remaining waiter
  assert.deepEqual(slots.stats().keys, { a: { inflight: 0, queued: 1 }, b: { inflight: 1, queued: 0 } });
});

test('a waiter past queueTimeout is refused; an aborted one is refused with HR_ABORTED; neither keeps a place', async () => {
  const clock = new FakeClock();
  const slots = fairQueue({ maxConcurrent: 1, maxQueue: 5, queueTimeout: 100, clock }, refusal);
  slots.tryTake('x');
  const late = slots.take('a').catch((e) => e);
  const controller = new AbortController();
  const aborted = slots.take('b', controller.signal).catch((e) => e);
  controller.abort();
  assert.equal((await aborted).code, 'HR_ABORTED');
  clock.advance(100);
  assert.equal((await late).reason, 'queue-timeout');
  assert.deepEqual(slots.stats(), { inflight: 1, queued: 0, keys: { x: { inflight: 1, queued: 0 } } });
  assert.equal(clock.pending, 0, 'no timer left behind');
});

test('bad options throw naming the option', () => {
  assert.throws(() => fairQueue({ maxConcurrent: 0 }, refusal), /maxConcurrent/);
  assert.throws(() => fairQueue({ maxConcurrent: 2, maxPerKey: 3 }, refusal), /maxPerKey/);
});

test('resize: growing hands slots to waiters at once; shrinking takes none back, new takes wait until under it', async () => {
  const slots = fairQueue({ maxConcurrent: 2, maxQueue: 10 }, refusal);
  assert.ok(slots.tryTake('a') && slots.tryTake('b'));
  let served = 0;
  const waits = [slots.take('c'), slots.take('d')].map((w) => w.then(() => served++));
  slots.resize(3);
  await Promise.resolve();
  assert.equal(served, 1, 'one new slot, one waiter served');
  slots.resize(1);
  assert.equal(slots.inflight, 3, 'holders keep their slots');
  assert.equal(slots.tryTake('e'), false);
  slots.release('a');
  slots.release('b');
  await Promise.resolve();
  assert.equal(served, 1, 'two freed, still at the new size of 1');
  slots.release('c');
  await Promise.all(waits);
  assert.equal(served, 2);
  assert.equal(slots.maxPerKey, 1, 'an unset maxPerKey follows the size');
});

test('resize keeps a maxPerKey that was given, capped by the size while the size is smaller', () => {
  const slots = fairQueue({ maxConcurrent: 8, maxPerKey: 3 }, refusal);
  slots.resize(2);
  assert.equal(slots.maxPerKey, 2);
  slots.resize(20);
  assert.equal(slots.maxPerKey, 3);
  assert.equal(slots.maxConcurrent, 20);
});
