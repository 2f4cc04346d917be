import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { isHeadroomError } from '../errors/index.ts';
import { circuitBreaker } from './circuit-breaker.ts';
import type { CircuitStateChange } from './circuit-breaker-options.ts';
import { isBrokenCircuitError, isIsolatedCircuitError } from './errors.ts';

const ok = () => 'ok';
const boom = () => {
  throw new Error('upstream 502');
};

async function run(breaker: ReturnType<typeof circuitBreaker>, outcomes: string) {
  for (const c of outcomes) await breaker.execute(c === 'x' ? boom : ok).catch(() => {});
}

test('opens at the failure-rate threshold once the window holds minimumCalls, then refuses without calling', async () => {
  const clock = new FakeClock();
  const breaker = circuitBreaker({ minimumCalls: 10, failureRateThreshold: 0.5, clock });
  await run(breaker, 'xxxxxxxxx'); // 9 failures: below minimumCalls
  assert.equal(breaker.state, 'closed');
  await run(breaker, 'x');
  assert.equal(breaker.state, 'open');
  let called = false;
  const refused = await breaker
    .execute(() => {
      called = true;
    })
    .catch((e: unknown) => e);
  assert.ok(isBrokenCircuitError(refused) && isHeadroomError(refused));
  assert.equal(refused.code, 'HR_CIRCUIT_OPEN');
  assert.equal(refused.status, 503);
  assert.equal(called, false);
});

test('a failure rate under the threshold keeps it closed; the count window forgets the oldest call', async () => {
  const breaker = circuitBreaker({
    window: { type: 'count', size: 10 },
    minimumCalls: 10,
    clock: new FakeClock(),
  });
  await run(breaker, 'xxxx......'); // 40%
  assert.equal(breaker.state, 'closed');
  await run(breaker, '..x'); // the three oldest failures leave: 'x......' + '..x' → 2 of 10
  assert.equal(breaker.stats().window.failures, 2);
  assert.equal(breaker.state, 'closed');
});

test('opens on the slow-call rate, judged from the injected clock', async () => {
  const clock = new FakeClock();
  const breaker = circuitBreaker({
    minimumCalls: 4,
    slowCallDurationThreshold: 200,
    slowCallRateThreshold: 0.5,
    clock,
  });
  const changes: CircuitStateChange[] = [];
  breaker.onStateChange((e) => changes.push(e));
  const slow = async () => {
    const call = breaker.execute(async () => {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 250));
      return 'late but fine';
    });
    await clock.tick(250);
    assert.equal(await call, 'late but fine');
  };
  await run(breaker, '..');
  await slow();
  assert.equal(breaker.state, 'closed');
  await slow(); // 2 slow of 4
  assert.equal(breaker.state, 'open');
  assert.deepEqual(changes, [{ breaker: 'breaker', from: 'closed', to: 'open', reason: 'slow-call-rate' }]);
});

test('half-open lets exactly N probes through; all passing closes it', async () => {
  const clock = new FakeClock();
  const breaker = circuitBreaker({ minimumCalls: 2, halfOpenAfter: 1_000, halfOpenProbes: 3, clock });
  await run(breaker, 'xx');
  assert.equal(breaker.state, 'open');
  clock.advance(999);
  assert.equal(breaker.state, 'open');
  clock.advance(1);
  assert.equal(breaker.state, 'half-open');

  const gates: (() => void)[] = [];
  const probe = () => breaker.execute(() => new Promise<string>((r) => gates.push(() => r('ok'))));
  const probes = [probe(), probe(), probe()];
  const fourth = await breaker.execute(ok).catch((e: unknown) => e);
  assert.ok(isBrokenCircuitError(fourth), 'a fourth call while 3 probes run is refused');
  for (const open of gates) open();
  assert.deepEqual(await Promise.all(probes), ['ok', 'ok', 'ok']);
  assert.equal(breaker.state, 'closed');
});

test('a failed probe reopens it and the half-open delay grows by backoff up to max', async () => {
  const clock = new FakeClock();
  const breaker = circuitBreaker({
    minimumCalls: 1,
    halfOpenAfter: { initial: 100, multiplier: 2, max: 300 },
    clock,
  });
  const reasons: string[] = [];
  breaker.onStateChange((e) => reasons.push(`${e.to}:${e.reason}`));
  await run(breaker, 'x');
  for (const wait of [100, 200, 300, 300]) {
    clock.advance(wait - 1);
    assert.equal(breaker.state, 'open', `still open 1 ms before ${wait}`);
    clock.advance(1);
    assert.equal(breaker.state, 'half-open');
    await run(breaker, 'x');
    assert.equal(breaker.state, 'open');
  }
  clock.advance(300);
  await run(breaker, '.');
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.stats().reopenings, 0, 'closing resets the backoff');
  assert.deepEqual(reasons.slice(0, 3), [
    'open:failure-rate',
    'half-open:delay-elapsed',
    'open:probe-failed',
  ]);
  assert.equal(reasons.at(-1), 'closed:probes-passed');
});

test('a time window forgets failures older than its duration', async () => {
  const clock = new FakeClock();
  const breaker = circuitBreaker({
    window: { type: 'time', duration: 10_000, buckets: 10 },
    minimumCalls: 4,
    clock,
  });
  await run(breaker, 'xxx');
  clock.advance(10_000);
  await run(breaker, '.');
  assert.equal(breaker.state, 'closed', 'the three old failures left the window');
  assert.equal(breaker.stats().window.calls, 1);
});

test('errors that isFailure rejects are not counted; the caller abort is not a failure by default', async () => {
  const breaker = circuitBreaker({
    minimumCalls: 1,
    isFailure: (e) => !(e instanceof RangeError),
    clock: new FakeClock(),
  });
  await breaker
    .execute(() => {
      throw new RangeError('404 is an answer, not an outage');
    })
    .catch(() => {});
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.stats().window.calls, 0);
});

test('isolate holds it open until every handle is released; reset closes from any state', async () => {
  const clock = new FakeClock();
  const breaker = circuitBreaker({ clock });
  const a = breaker.isolate();
  const b = breaker.isolate();
  assert.equal(breaker.state, 'isolated');
  const refused = await breaker.execute(ok).catch((e: unknown) => e);
  assert.ok(isIsolatedCircuitError(refused));
  clock.advance(3_600_000);
  assert.equal(breaker.state, 'isolated', 'no delay ends an isolation');
  a.dispose();
  a.dispose();
  assert.equal(breaker.state, 'isolated');
  b.dispose();
  assert.equal(breaker.state, 'closed');
  breaker.isolate();
  breaker.reset();
  assert.equal(await breaker.execute(ok), 'ok');
});

test('toJSON and restore carry an open breaker across a restart, counting the time already spent open', async () => {
  const clock = new FakeClock();
  const before = circuitBreaker({ name: 'enrichment', minimumCalls: 1, halfOpenAfter: 1_000, clock });
  await run(before, 'x');
  clock.advance(600);
  const snapshot = JSON.parse(JSON.stringify(before));
  assert.equal(snapshot.state, 'open');
  assert.equal(snapshot.name, 'enrichment');

  const after = circuitBreaker({
    name: 'enrichment',
    minimumCalls: 1,
    halfOpenAfter: 1_000,
    clock,
    restore: snapshot,
  });
  assert.equal(after.state, 'open');
  clock.advance(400);
  assert.equal(after.state, 'half-open');

  const closed = circuitBreaker({
    minimumCalls: 4,
    clock,
    restore: { ...snapshot, state: 'closed', window: { calls: 3, failures: 3, slowCalls: 0 } },
  });
  await run(closed, 'x');
  assert.equal(closed.state, 'open', 'the restored window counts');
});

test('bad options throw HR_INVALID_OPTION naming the option', () => {
  for (const [options, name] of [
    [{ failureRateThreshold: 0 }, 'failureRateThreshold'],
    [{ failureRateThreshold: 1.5 }, 'failureRateThreshold'],
    [{ minimumCalls: 0.5 }, 'minimumCalls'],
    [{ halfOpenProbes: 0 }, 'halfOpenProbes'],
    [{ window: { type: 'count', size: 0 } }, 'window.size'],
    [{ window: { type: 'sliding' } }, 'window'],
  ] as const) {
    assert.throws(
      () => circuitBreaker(options as never),
      (e: unknown) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION' && e.message.includes(`"${name}"`),
    );
  }
});

test('tune() changes the thresholds from the next call and keeps the window; an invalid value changes nothing', async () => {
  const clock = new FakeClock();
  const breaker = circuitBreaker({
    window: { type: 'count', size: 10 },
    minimumCalls: 10,
    failureRateThreshold: 0.5,
    halfOpenAfter: 1_000,
    clock,
  });
  await run(breaker, 'xxx.......'); // 30%: closed under 50%
  assert.equal(breaker.state, 'closed');
  assert.throws(() => breaker.tune({ failureRateThreshold: 2 }), /failureRateThreshold/);
  await run(breaker, '.'); // still judged at 50%: one old failure leaves, 2 of 10
  assert.equal(breaker.state, 'closed');
  breaker.tune({ failureRateThreshold: 0.2, halfOpenAfter: 5_000 });
  assert.equal(breaker.stats().window.failures, 2, 'the window kept its outcomes');
  await run(breaker, 'x'); // 3 of 10 = 30%, over the new 20%
  assert.equal(breaker.state, 'open');
  clock.advance(1_000);
  assert.equal(breaker.state, 'open', 'the new half-open delay applies');
  clock.advance(4_000);
  assert.equal(breaker.state, 'half-open');
});
