import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { connectBreaker } from './database.ts';

const failing = (message: string, code?: string) => () =>
  Promise.reject(Object.assign(new Error(message), code ? { code } : {}));

test('the connect breaker opens on connections the server did not take, not on a busy pool', async () => {
  const clock = new FakeClock();
  const busy = connectBreaker(clock);
  for (let i = 0; i < 20; i++) {
    await busy.execute(failing('timeout exceeded when trying to connect')).catch(() => {});
  }
  assert.equal(busy.state, 'closed', 'every connection busy: the server is fine');

  const frozen = connectBreaker(clock);
  for (let i = 0; i < 3; i++) {
    await frozen.execute(failing('Connection terminated due to connection timeout')).catch(() => {});
  }
  assert.equal(frozen.state, 'open');
  const refused = connectBreaker(clock);
  for (let i = 0; i < 3; i++)
    await refused.execute(failing('connect ECONNREFUSED', 'ECONNREFUSED')).catch(() => {});
  assert.equal(refused.state, 'open');

  // One try a second, however long it stays down.
  await clock.tick(1_000);
  assert.equal(await frozen.execute(async () => 'connected'), 'connected');
  assert.equal(frozen.state, 'closed');
});
