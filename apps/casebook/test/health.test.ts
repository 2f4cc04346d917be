// /health with a shared cache: its L2 breaker (among the plugin's breakers) and its invalidation bus are checks
// of their own, and either one down makes casebook degraded (warn, still ready), never unready.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCache, memoryBus, memoryStore } from '@headroom/core/cache';
import { FakeClock } from '@headroom/core/clock';
import { startTestApp, testNow } from './support/app.ts';

test('the cache bus down: /health says warn with the reason, /health/ready stays 200; back up: pass', async () => {
  const clock = new FakeClock({ now: testNow });
  const bus = memoryBus();
  const cache = createCache({ name: 'casebook', clock, l2: memoryStore({ clock }), bus });
  const t = await startTestApp({ deps: { clock, cache } });
  try {
    const healthy = (await t.app.inject('/health')).json();
    assert.equal(healthy.status, 'pass');
    assert.deepEqual(
      [healthy.checks['breaker:cache:casebook:l2']?.status, healthy.checks['cache:bus']?.status],
      ['pass', 'pass'],
    );
    bus.setHealthy(false);
    const degraded = await t.app.inject('/health');
    assert.equal(degraded.statusCode, 200);
    assert.equal(degraded.json().status, 'warn');
    assert.equal(degraded.json().checks['cache:bus'].status, 'warn');
    assert.match(degraded.json().checks['cache:bus'].output, /invalidation bus down/);
    assert.equal((await t.app.inject('/health/ready')).statusCode, 200);
    bus.setHealthy(true);
    assert.equal((await t.app.inject('/health')).json().status, 'pass');
  } finally {
    await t.close();
  }
});
