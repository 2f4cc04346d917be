// The contract every CacheBus passes (memory, Redis, and any bus an app brings): one suite, run by each
// implementation's tests, like the store contract.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BusMessage, CacheBus } from './store.ts';

/** Two instances on one channel (for an in-process bus, the same instance twice), and how to close them. */
export interface BusPair {
  a: CacheBus;
  b: CacheBus;
  close(): Promise<void>;
}

/** Makes a fresh pair for one test: subscribed and ready when it resolves. */
export type MakeBusPair = () => Promise<BusPair>;

const sample: BusMessage[] = [
  { type: 'set', origin: 'instance-a', sentAt: 1_700_000_000_000, cache: 'cases', keys: ['cases|t:acme:1'] },
  { type: 'delete', origin: 'instance-a', sentAt: 1_700_000_000_001, cache: 'cases', keys: ['k1', 'k2'] },
  { type: 'released', origin: 'instance-a', sentAt: 1_700_000_000_002, cache: 'cases', keys: ['k3'] },
  {
    type: 'tags',
    origin: 'instance-a',
    sentAt: 1_700_000_000_003,
    tags: ['t:acme:case:1', 'x'],
    versions: [4, 1],
  },
  { type: 'clear', origin: 'instance-a', sentAt: 1_700_000_000_004, cache: 'cases' },
];

/** Collects what a listener hears and resolves once it heard `count` messages (or rejects after `ms`). */
function heard(bus: CacheBus, count: number, ms = 5_000) {
  const messages: BusMessage[] = [];
  const { promise, resolve, reject } = Promise.withResolvers<BusMessage[]>();
  const timer = setTimeout(
    () => reject(new Error(`heard ${messages.length} of ${count} messages in ${ms} ms`)),
    ms,
  );
  const subscription = bus.subscribe((message) => {
    messages.push(message);
    if (messages.length === count) resolve(messages);
  });
  const done = promise.finally(() => {
    clearTimeout(timer);
    subscription.dispose();
  });
  return { messages, done };
}

/**
 * Registers the CacheBus contract as a node:test suite: every message kind arrives whole on the other
 * instance and on the sender's own; delivery is asynchronous and in order; disposed listeners hear nothing;
 * `close` makes the bus unhealthy and is safe to call twice.
 *
 * @example
 * cacheBusContract('memoryBus', async () => { const bus = memoryBus(); return { a: bus, b: bus, close: () => bus.close() }; });
 */
export function cacheBusContract(name: string, makePair: MakeBusPair): void {
  describe(`CacheBus contract: ${name}`, () => {
    test('a ready bus is healthy', async () => {
      const { a, b, close } = await makePair();
      assert.equal(a.healthy, true);
      assert.equal(b.healthy, true);
      await close();
    });

    test('every kind of message reaches the other instance whole, and the sender hears its own', async () => {
      const { a, b, close } = await makePair();
      const other = heard(b, sample.length);
      const own = heard(a, sample.length);
      for (const message of sample) await a.publish(message);
      assert.deepEqual(await other.done, sample);
      assert.deepEqual(await own.done, sample, 'caches skip their own echo by origin; the bus does not');
      await close();
    });

    test('delivery is asynchronous: no listener runs inside publish', async () => {
      const { a, b, close } = await makePair();
      let publishing = false;
      const during: boolean[] = [];
      const sub = b.subscribe(() => during.push(publishing));
      const one = heard(b, 1);
      publishing = true;
      const sent = a.publish(sample[0]!);
      publishing = false;
      await sent;
      await one.done;
      assert.deepEqual(during, [false]);
      sub.dispose();
      await close();
    });

    test("one sender's messages arrive in the order it sent them", async () => {
      const { a, b, close } = await makePair();
      const count = 50;
      const listener = heard(b, count);
      const sends: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        sends.push(a.publish({ type: 'delete', origin: 'a', sentAt: i, cache: 'c', keys: [String(i)] }));
      }
      await Promise.all(sends);
      const order = (await listener.done).map((m) => (m.type === 'delete' ? Number(m.keys[0]) : -1));
      assert.deepEqual(
        order,
        Array.from({ length: count }, (_, i) => i),
      );
      await close();
    });

    test('a disposed listener hears nothing more; the others still do', async () => {
      const { a, b, close } = await makePair();
      const gone: BusMessage[] = [];
      const subscription = b.subscribe((message) => gone.push(message));
      subscription.dispose();
      subscription.dispose(); // twice is harmless
      const staying = heard(b, 2);
      await a.publish(sample[0]!);
      await a.publish(sample[1]!);
      await staying.done;
      assert.deepEqual(gone, []);
      await close();
    });

    test('close makes the bus unhealthy, and closing twice is safe', async () => {
      const { a, b, close } = await makePair();
      await b.close();
      assert.equal(b.healthy, false);
      await b.close();
      if (a !== b) assert.equal(a.healthy, true, 'closing one instance leaves the other up');
      await close();
    });
  });
}
