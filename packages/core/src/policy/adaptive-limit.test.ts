import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { isHeadroomError } from '../errors/index.ts';
import { adaptiveLimit } from './adaptive-limit.ts';
import { isBulkheadRejectedError } from './errors.ts';

const codeOf = (e: unknown) => (isHeadroomError(e) ? e.code : String(e));

/** Runs `waves` waves of calls, each filling the limit and taking `rtt` ms. */
function drive(door: ReturnType<typeof adaptiveLimit>, clock: FakeClock, waves: number, rtt: number) {
  for (let wave = 0; wave < waves; wave++) {
    const permits = [];
    for (let p = door.tryAcquire(); p !== undefined; p = door.tryAcquire()) permits.push(p);
    clock.advance(rtt);
    for (const p of permits) p.release();
  }
}

test('permits: at most `limit` at once, freed on release; stats say so', () => {
  const door = adaptiveLimit({ name: 'http', initialLimit: 3, clock: new FakeClock() });
  const held = [door.tryAcquire(), door.tryAcquire(), door.tryAcquire()];
  assert.ok(held.every((p) => p !== undefined));
  assert.equal(door.tryAcquire(), undefined);
  held[0]!.release();
  held[0]!.release(); // twice: nothing more
  assert.equal(door.inflight, 2);
  assert.deepEqual(
    { ...door.stats(), longRttMs: 0 },
    {
      name: 'http',
      limit: 3,
      minLimit: 2,
      maxLimit: 1000,
      inflight: 2,
      queued: 0,
      maxQueue: 0,
      queueAllowance: 0,
      longRttMs: 0,
    },
  );
});

test('RTTs climbing past tolerance shrink the limit, and the slots with it; steady RTTs grow it back', () => {
  const clock = new FakeClock();
  const door = adaptiveLimit({ initialLimit: 40, minLimit: 2, clock });
  const changes: number[] = [];
  door.onLimitChange((e) => changes.push(e.limit));
  drive(door, clock, 100, 30); // 3 s
  const healthy = door.limit;
  assert.ok(healthy >= 40, `grew while RTTs held: ${healthy}`);
  drive(door, clock, 40, 300); // 12 s ten times slower: the dependency behind the calls is saturated
  assert.ok(door.limit < healthy / 2, `${healthy} → ${door.limit}`);
  const permits = [];
  for (let p = door.tryAcquire(); p !== undefined; p = door.tryAcquire()) permits.push(p);
  assert.equal(permits.length, door.limit, 'the slots follow the limit');
  for (const p of permits) p.release('ignore');
  drive(door, clock, 1_000, 30); // 30 s healthy again
  assert.ok(door.limit >= healthy, `back to ${door.limit}`);
  assert.equal(changes.at(-1), door.limit, 'every change was announced');
});

test('refusals are the bulkhead’s: full at once, or after the queue deadline; a grown limit serves waiters', async () => {
  const clock = new FakeClock();
  const door = adaptiveLimit({ initialLimit: 2, maxQueue: 1, queueTimeout: 50, clock });
  const held = [door.tryAcquire()!, door.tryAcquire()!];
  const waiting = door.acquire('t1');
  const full = await door.acquire('t2').catch((e: unknown) => e);
  assert.ok(isBulkheadRejectedError(full));
  assert.equal(codeOf(full), 'HR_BULKHEAD_FULL');
  clock.advance(50);
  assert.equal(codeOf(await waiting.catch((e: unknown) => e)), 'HR_BULKHEAD_QUEUE_TIMEOUT');
  for (const p of held) p.release();
});

test('execute composes like any policy; a call its caller aborted feeds no RTT', async () => {
  const clock = new FakeClock();
  const door = adaptiveLimit({ initialLimit: 10, minSamples: 1, windowMs: 0, clock });
  assert.equal(await door.execute(async () => 'done'), 'done');
  const longRtt = door.stats().longRttMs;
  const controller = new AbortController();
  const call = door.execute(() => new Promise(() => {}), { signal: controller.signal });
  clock.advance(10_000);
  controller.abort();
  assert.ok(isHeadroomError(await call.catch((e: unknown) => e)));
  assert.equal(door.inflight, 0, 'the slot is free');
  assert.equal(door.stats().longRttMs, longRtt, 'ten seconds of a call nobody waited for taught nothing');
});

test('the queue takes what the slots can serve within queueTarget: deep for fast calls, short for slow ones', async () => {
  const clock = new FakeClock();
  const door = adaptiveLimit({
    initialLimit: 10,
    maxQueue: 1_000,
    queueTarget: 20,
    queueTimeout: 1_000,
    clock,
  });
  assert.equal(door.queueAllowance, 1_000, 'nothing measured yet: maxQueue');
  drive(door, clock, 1_500, 1); // 1 ms calls for 1.5 s (past the warm-up windows): each slot serves 20 in 20 ms
  assert.equal(door.queueAllowance, Math.min(1_000, door.limit * 20));
  const fast = door.queueAllowance;
  drive(door, clock, 400, 100); // 100 ms calls for 40 s: the long-term RTT has learnt them
  const allowance = door.queueAllowance;
  assert.ok(allowance < fast / 10 && allowance >= 1, `allowance ${fast} → ${allowance}`);
  const held = [];
  for (let p = door.tryAcquire(); p !== undefined; p = door.tryAcquire()) held.push(p);
  const waiters = Array.from({ length: allowance }, () => door.acquire().catch((e: unknown) => e));
  const refused = await door.acquire().catch((e: unknown) => e);
  assert.equal(codeOf(refused), 'HR_BULKHEAD_FULL', 'beyond the allowance: refused at once, not queued');
  assert.equal(door.queued, allowance);
  for (const p of held) p.release('ignore');
  for (const w of await Promise.all(waiters)) (w as { release(o: string): void }).release('ignore');
});
