// Casebook's real quotas (not the raised ones other tests use): per tenant by tier, per client and account on login.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loginQuotas, tierQuotas } from '../src/protection/limits.ts';
import { startTestApp } from './support/app.ts';

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

test('login is limited per account across client addresses, and per client address across accounts', async () => {
  const real = await startTestApp({ realLimits: true });
  try {
    const attempt = (email: string, ip: string) =>
      real.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email, password: 'wrong-password' },
        remoteAddress: ip,
      });
    const perAccount = loginQuotas.account.burst;
    for (let i = 0; i < perAccount; i++)
      assert.equal((await attempt('admin@acme.test', `10.0.0.${i + 1}`)).statusCode, 401);
    const stuffed = await attempt('admin@acme.test', '10.0.1.1');
    assert.equal(stuffed.statusCode, 429, 'a fresh address does not reset the account’s bucket');
    assert.equal(stuffed.json().policy, 'login-account');

    const perClient = loginQuotas.client.burst;
    for (let i = 0; i < perClient; i++) await attempt(`nobody${i}@acme.test`, '10.9.9.9');
    const sprayed = await attempt('someone-else@acme.test', '10.9.9.9');
    assert.equal(sprayed.statusCode, 429);
    assert.equal(sprayed.json().policy, 'login-client');
  } finally {
    await real.close();
  }
});
