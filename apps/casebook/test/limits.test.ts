// Casebook's real quotas (not the raised ones other tests use): per tenant by tier, per client and account on login.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { until } from '@headroom/dev-servers/until';
import { createLimits, loginQuotas } from '../src/protection/limits.ts';
import { tierQuotas } from '../src/tenancy/tiers.ts';
import { startTestApp, testNow } from './support/app.ts';

test('a free tenant flooding search gets 429s with the free policy while an enterprise tenant is still served', async () => {
  const real = await startTestApp({ realLimits: true });
  try {
    const initech = await real.login('analyst@initech.test');
    const acme = await real.login('analyst@acme.test');
    const burst = tierQuotas.free.burst!;
    const codes: number[] = [];
    for (let i = 0; i < burst + 5; i++)
      codes.push((await real.as(initech, { url: '/v1/cases/search?q=fraud' })).statusCode);
    assert.equal(codes.filter((c) => c === 200).length, burst, `the free burst is ${burst}`);
    assert.equal(codes.filter((c) => c === 429).length, 5);

    const limited = await real.as(initech, { url: '/v1/cases/search?q=fraud' });
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().code, 'HR_RATE_LIMITED');
    assert.equal(limited.json().policy, 'free');
    assert.equal(limited.headers['ratelimit-policy'], '"free";q=600;w=60');
    assert.ok(Number(limited.headers['retry-after']) >= 1);

    for (let i = 0; i < 50; i++) {
      const res = await real.as(acme, { url: '/v1/cases/search?q=fraud' });
      assert.equal(res.statusCode, 200, 'the enterprise tenant is untouched by the free tenant’s flood');
    }
    const ok = await real.as(acme, { url: '/v1/cases/search?q=fraud' });
    assert.equal(ok.headers['ratelimit-policy'], '"enterprise";q=30000;w=60');
    assert.match(String(ok.headers.ratelimit), /^"enterprise";r=\d+;t=\d+$/);
  } finally {
    await real.close();
  }
});

test('failed logins are throttled per account from one client and per client; the owner’s own client still gets in', async () => {
  const real = await startTestApp({ realLimits: true });
  try {
    const attempt = (email: string, ip: string, password = 'wrong-password') =>
      real.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email, password },
        remoteAddress: ip,
      });
    // The lock-out attack: someone who knows the address fails on purpose, from one client and from many.
    const perAccount = loginQuotas.accountFailures.burst;
    for (let i = 0; i < perAccount; i++)
      assert.equal((await attempt('admin@acme.test', '10.0.0.1')).statusCode, 401);
    const throttled = await attempt('admin@acme.test', '10.0.0.1');
    assert.equal(throttled.statusCode, 429, 'the guessing client is slowed down');
    assert.equal(throttled.json().policy, 'login-failures-account');
    assert.ok(Number(throttled.headers['retry-after']) >= 1);
    assert.equal(
      (await attempt('admin@acme.test', '10.0.0.1', 'headroom-demo')).statusCode,
      429,
      'even the right password waits on a client that failed too often',
    );
    for (let ip = 2; ip <= 6; ip++)
      for (let i = 0; i < perAccount; i++) await attempt('admin@acme.test', `10.0.0.${ip}`);
    const owner = await attempt('admin@acme.test', '10.1.1.1', 'headroom-demo');
    assert.equal(owner.statusCode, 200, 'the owner’s own client is not locked out by anyone else’s failures');
    assert.equal((await attempt('admin@acme.test', '10.1.1.1', 'headroom-demo')).statusCode, 200);

    // One client failing across many accounts (password spraying) runs out of failures.
    const perClient = loginQuotas.clientFailures.burst;
    for (let i = 0; i < perClient; i++)
      assert.equal((await attempt(`nobody${i}@acme.test`, '10.9.9.9')).statusCode, 401);
    const sprayed = await attempt('someone-else@acme.test', '10.9.9.9');
    assert.equal(sprayed.statusCode, 429);
    assert.equal(sprayed.json().policy, 'login-failures-client');

    // Every attempt, successful or not, counts per client (password hashing costs CPU).
    const attempts = loginQuotas.client.burst;
    const codes: number[] = [];
    for (let i = 0; i < attempts + 1; i++)
      codes.push((await attempt('analyst@acme.test', '10.7.7.7', 'headroom-demo')).statusCode);
    assert.deepEqual(codes.slice(0, attempts), Array(attempts).fill(200));
    assert.equal(codes[attempts], 429);
  } finally {
    await real.close();
  }
});

test('the search limit guards the query, not the route: with every slot taken, a cached page answers and an uncached one waits its queue timeout, then 503', async () => {
  const clock = new FakeClock({ now: testNow });
  const limits = createLimits({ clock, scale: 1000 });
  const t = await startTestApp({ deps: { clock, limits } });
  try {
    const token = await t.login('analyst@acme.test');
    const cached = '/v1/cases/search?q=fraud';
    assert.equal((await t.as(token, { url: cached })).statusCode, 200); // now in the cache
    const held = [];
    for (let i = 0; i < 16; i++) held.push(await limits.search.acquire(`hog-${i % 4}`));
    const hit = await t.as(token, { url: cached });
    assert.equal(hit.statusCode, 200, 'a cache hit takes no slot');
    const pending = t.as(token, { url: '/v1/cases/search?q=wire' });
    await until(() => limits.search.stats().queued === 1, {
      what: 'the uncached search to queue for a slot',
    });
    await clock.tick(250); // its queue timeout
    const miss = await pending;
    assert.equal(miss.statusCode, 503, miss.body);
    assert.equal(miss.json().code, 'HR_OVERLOADED');
    assert.equal(miss.headers['retry-after'], '1');
    for (const permit of held) permit.release();
    assert.equal((await t.as(token, { url: '/v1/cases/search?q=wire' })).statusCode, 200);
  } finally {
    await t.close();
  }
});
