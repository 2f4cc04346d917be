import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriteBatcher } from './batch.ts';

/** A flush that answers only when told: the test decides when the "database" answers. */
function controlled() {
  const calls: { items: number[]; answer: () => void; fail: (error: Error) => void }[] = [];
  const batcher = new WriteBatcher(
    (items: number[]) =>
      new Promise<number[]>((resolve, reject) => {
        calls.push({ items, answer: () => resolve(items.map((n) => n * 10)), fail: reject });
      }),
  );
  return { batcher, calls };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('items added in one turn go in one flush; each gets its own result', async () => {
  const { batcher, calls } = controlled();
  const results = [1, 2, 3].map((n) => batcher.add(n));
  await turn();
  assert.deepEqual(
    calls.map((c) => c.items),
    [[1, 2, 3]],
  );
  calls[0]!.answer();
  assert.deepEqual(await Promise.all(results), [10, 20, 30]);
});

test('what arrives while a flush is in flight waits for it, then goes together in the next (group commit)', async () => {
  const { batcher, calls } = controlled();
  const first = batcher.add(1);
  await turn();
  const later = [2, 3, 4].map((n) => batcher.add(n));
  await turn();
  await turn();
  assert.equal(calls.length, 1, 'one statement at a time');
  assert.deepEqual(batcher.pending, { queued: 3, inFlight: 1 });
  calls[0]!.answer();
  assert.equal(await first, 10);
  await turn();
  assert.deepEqual(
    calls.map((c) => c.items),
    [[1], [2, 3, 4]],
    'the three waiting went in one flush, at once',
  );
  calls[1]!.answer();
  assert.deepEqual(await Promise.all(later), [20, 30, 40]);
});

test('a failed flush rejects its own items only; the next batch still goes', async () => {
  const { batcher, calls } = controlled();
  const failed = [1, 2].map((n) => batcher.add(n));
  await turn();
  const next = batcher.add(3);
  calls[0]!.fail(new Error('connection lost'));
  for (const result of failed) await assert.rejects(result, /connection lost/);
  await turn();
  calls[1]!.answer();
  assert.equal(await next, 30);
});

test('a flush that throws synchronously rejects its batch instead of losing it', async () => {
  const batcher = new WriteBatcher<number>(() => {
    throw new Error('bad statement');
  });
  await assert.rejects(batcher.add(1), /bad statement/);
  assert.deepEqual(batcher.pending, { queued: 0, inFlight: 0 });
});

test('maxBatch splits a large arrival; concurrency lets that many flushes run at once', async () => {
  const sizes: number[] = [];
  let inFlight = 0;
  let most = 0;
  const batcher = new WriteBatcher(
    async (items: number[]) => {
      sizes.push(items.length);
      inFlight++;
      most = Math.max(most, inFlight);
      await turn();
      inFlight--;
      return items;
    },
    { maxBatch: 4, concurrency: 2 },
  );
  const all = Array.from({ length: 10 }, (_, i) => batcher.add(i));
  assert.deepEqual(
    await Promise.all(all),
    Array.from({ length: 10 }, (_, i) => i),
  );
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.equal(most, 2);
});
