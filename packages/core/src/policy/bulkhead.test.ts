import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { isAbortedError, isHeadroomError } from '../errors/index.ts';
import { bulkhead } from './bulkhead.ts';
import { isBulkheadRejectedError } from './errors.ts';

// A call that runs until the test releases it; `log` records the order calls started in.
function gated(log: string[]) {
  const gates = new Map<string, () => void>();
  const task = (name: string) => () =>
    new Promise<string>((resolve) => {
      log.push(name);
      gates.set(name, () => resolve(name));
    });
  const release = async (name: string) => {
    gates.get(name)!();
    await new Promise((r) => setImmediate(r));
  };
  return { task, release };
}

const codeOf = (e: unknown) => (isHeadroomError(e) ? e.code : String(e));

test('runs at most maxConcurrent, queues up to maxQueue, refuses the rest at once with HR_BULKHEAD_FULL', async () => {
  const log: string[] = [];
  const { task, release } = gated(log);
  const pool = bulkhead({ maxConcurrent: 2, maxQueue: 1, clock: new FakeClock() });
  const a = pool.execute(task('a'));
  const b = pool.execute(task('b'));
  const c = pool.execute(task('c'));
  const d = await pool.execute(task('d')).catch((e: unknown) => e);
  assert.ok(isBulkheadRejectedError(d));
  assert.equal(codeOf(d), 'HR_BULKHEAD_FULL');
  assert.equal((d as { status: number }).status, 503);
  assert.deepEqual([pool.inflight, pool.queued], [2, 1]);
  await release('a');
  assert.deepEqual(log, ['a', 'b', 'c'], 'the queued call took the freed slot');
  await release('b');
  await release('c');
  assert.deepEqual(await Promise.all([a, b, c]), ['a', 'b', 'c']);
  assert.deepEqual([pool.inflight, pool.queued], [0, 0]);
});

test('a queued call gives up after queueTimeout with HR_BULKHEAD_QUEUE_TIMEOUT', async () => {
  const clock = new FakeClock();
  const { task } = gated([]);
  const pool = bulkhead({ maxConcurrent: 1, maxQueue: 5, queueTimeout: 250, clock });
  void pool.execute(task('holder'));
  const waiting = pool.execute(task('waiter')).catch((e: unknown) => e);
  await clock.tick(249);
  assert.equal(pool.queued, 1);
  await clock.tick(1);
  assert.equal(codeOf(await waiting), 'HR_BULKHEAD_QUEUE_TIMEOUT');
  assert.equal(pool.queued, 0);
});

test('a slot is released on success, on error and on client abort', async () => {
  const clock = new FakeClock();
  const pool = bulkhead({ maxConcurrent: 1, maxQueue: 10, clock });
  await pool.execute(() => 'fine');
  await pool.execute(() => Promise.reject(new Error('broken'))).catch(() => {});
  assert.equal(pool.inflight, 0);

  const controller = new AbortController();
  let told = false;
  const stuck = pool.execute(
    ({ signal }) =>
      new Promise(() => {
        signal.addEventListener('abort', () => {
          told = true;
        });
      }),
    controller.signal,
  );
  const next = pool.execute(() => 'next in line');
  assert.equal(pool.queued, 1);
  controller.abort();
  await assert.rejects(stuck, isAbortedError);
  assert.equal(told, true, 'the function heard the abort');
  assert.equal(await next, 'next in line', 'the aborted call freed its slot');
});

test('an aborted waiter leaves the queue', async () => {
  const pool = bulkhead({ maxConcurrent: 1, maxQueue: 10, clock: new FakeClock() });
  void pool.execute(() => new Promise(() => {}));
  const controller = new AbortController();
  const waiting = pool.execute(() => 'never', controller.signal);
  assert.equal(pool.queued, 1);
  controller.abort();
  await assert.rejects(waiting, isAbortedError);
  assert.equal(pool.queued, 0);
});

test('a freed slot goes to the waiting tenant running the fewest calls, so a flood cannot starve a quiet tenant', async () => {
  const log: string[] = [];
  const { task, release } = gated(log);
  const pool = bulkhead({ maxConcurrent: 2, maxQueue: 100, clock: new FakeClock() });
  for (let i = 0; i < 10; i++) void pool.execute(task(`A${i}`), { key: 'flooder' });
  void pool.execute(task('B0'), { key: 'quiet' });
  void pool.execute(task('B1'), { key: 'quiet' });
  await release('A0');
  await release('A1');
  await release('B0');
  await release('A2');
  assert.deepEqual(log, ['A0', 'A1', 'B0', 'A2', 'B1', 'A3'], 'B waited for 1 slot, not for 8 of A');
});

test('a full queue evicts the newest waiter of the tenant with the most places to admit another tenant', async () => {
  const pool = bulkhead({ maxConcurrent: 1, maxQueue: 4, clock: new FakeClock() });
  const rejected: string[] = [];
  pool.onReject((e) => rejected.push(`${e.key}:${e.reason}`));
  void pool.execute(() => new Promise(() => {}), { key: 'flooder' });
  const flood = Array.from({ length: 5 }, () => pool.execute(() => 'a', { key: 'flooder' }).catch(codeOf));
  assert.equal(await flood[4], 'HR_BULKHEAD_FULL', 'the flooder alone cannot grow the queue past 4');
  const quiet = pool.execute(() => 'b', { key: 'quiet' });
  assert.equal(await flood[3], 'HR_BULKHEAD_FULL', "the flooder's newest waiter made room");
  assert.deepEqual(rejected, ['flooder:full', 'flooder:evicted']);
  assert.equal(pool.stats().keys.quiet?.queued, 1);
  assert.equal(pool.queued, 4);
  void quiet;
});

test('maxPerKey caps the slots one tenant holds even when the others are idle', async () => {
  const log: string[] = [];
  const { task, release } = gated(log);
  const pool = bulkhead({ maxConcurrent: 4, maxQueue: 10, maxPerKey: 2, clock: new FakeClock() });
  for (let i = 0; i < 4; i++) void pool.execute(task(`A${i}`), { key: 'a' });
  void pool.execute(task('B0'), { key: 'b' });
  assert.deepEqual(log, ['A0', 'A1', 'B0']);
  assert.equal(pool.inflight, 3);
  await release('A0');
  assert.deepEqual(log, ['A0', 'A1', 'B0', 'A2']);
});

test('permits: tryAcquire takes a free slot or answers undefined; acquire queues fairly; release is once only', async () => {
  const clock = new FakeClock();
  const pool = bulkhead({ maxConcurrent: 2, maxQueue: 2, queueTimeout: 100, maxPerKey: 1, clock });
  const a = pool.tryAcquire('a');
  assert.ok(a);
  assert.equal(pool.tryAcquire('a'), undefined, 'maxPerKey holds for permits too');
  const b = pool.tryAcquire('b');
  assert.ok(b);
  assert.equal(pool.tryAcquire('c'), undefined);
  assert.equal(pool.inflight, 2);

  const waiting = pool.acquire('c');
  const timingOut = pool.acquire('d');
  assert.equal(pool.queued, 2);
  await assert.rejects(
    pool.acquire('e'),
    (e) => isBulkheadRejectedError(e) && codeOf(e) === 'HR_BULKHEAD_FULL',
  );
  a.release();
  a.release();
  const c = await waiting;
  assert.equal(pool.inflight, 2, 'the second release of a did nothing');
  clock.tick(100);
  await assert.rejects(timingOut, (e) => codeOf(e) === 'HR_BULKHEAD_QUEUE_TIMEOUT');

  const controller = new AbortController();
  const aborted = pool.acquire('f', controller.signal);
  controller.abort();
  await assert.rejects(aborted, isAbortedError);
  assert.equal(pool.queued, 0);
  b.release();
  c.release();
  assert.deepEqual([pool.inflight, pool.queued], [0, 0]);
});
