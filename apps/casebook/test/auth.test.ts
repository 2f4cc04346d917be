import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { operatorHeaders, startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

describe('login', () => {
  test('a demo login gets a token that authenticates', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'analyst@acme.test', password: 'headroom-demo' },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.match(body.token, /^hrs_[A-Za-z0-9_-]{43}$/);
    assert.equal(body.tenant.slug, 'acme');
    assert.equal(res.headers['cache-control'], 'no-store');
    const me = await t.as(body.token, { url: '/v1/me' });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().user.email, 'analyst@acme.test');
    assert.deepEqual(me.json().tenant, { id: me.json().tenant.id, slug: 'acme', tier: 'enterprise' });
  });

  test('login answers snake_case: expires_at, with the deprecated expiresAt the same instant for one release', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'analyst@initech.test', password: 'headroom-demo' },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['token', 'expires_at', 'expiresAt', 'tenant']);
    assert.equal(body.expires_at, new Date(t.clock.now() + 12 * 60 * 60 * 1000).toISOString());
    assert.equal(body.expiresAt, body.expires_at);
    assert.deepEqual(body.tenant, { slug: 'initech', tier: 'free' });
  });

  test('a wrong password and an unknown email get the same 401', async () => {
    for (const payload of [
      { email: 'analyst@acme.test', password: 'wrong' },
      { email: 'nobody@acme.test', password: 'headroom-demo' },
    ]) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/auth/login', payload });
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json().code, 'HR_INVALID_CREDENTIALS');
    }
  });

  test('tokens are stored hashed, never in plain text', async () => {
    const token = await t.login('admin@globex.test');
    const { rows } = await t.db.pool.query(
      "SELECT count(*)::int AS n FROM sessions WHERE encode(token_hash, 'escape') LIKE $1",
      [`%${token.slice(4, 20)}%`],
    );
    assert.equal(rows[0].n, 0);
  });
});

describe('bearer tokens', () => {
  test('no token, a malformed one, or an unknown one → 401 with WWW-Authenticate', async () => {
    for (const authorization of [undefined, 'Basic abc', 'Bearer ', 'Bearer hrs_unknown', 'Bearer nope']) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/cases/search',
        headers: authorization ? { authorization } : {},
      });
      assert.equal(res.statusCode, 401, `${authorization}`);
      assert.equal(res.json().code, 'HR_UNAUTHENTICATED');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
  });

  test('logout revokes the token', async () => {
    const token = await t.login('analyst@globex.test');
    assert.equal((await t.as(token, { method: 'POST', url: '/v1/auth/logout' })).statusCode, 204);
    const res = await t.as(token, { url: '/v1/me' });
    assert.equal(res.statusCode, 401);
  });

  test('past its 30 s a principal is answered at once while one reload runs; a revoked one is not', async () => {
    const stale = async () => {
      const res = await t.app.inject({ url: '/metrics', headers: operatorHeaders });
      const line = /headroom_cache_requests_total\{cache="casebook",tier="l1",result="stale"\} (\d+)/.exec(
        res.body,
      );
      return Number(line?.[1] ?? 0);
    };
    const token = await t.login('analyst@globex.test');
    assert.equal((await t.as(token, { url: '/v1/me' })).statusCode, 200);
    const before = await stale();
    t.clock.advance(31_000);
    assert.equal((await t.as(token, { url: '/v1/me' })).statusCode, 200);
    assert.equal((await stale()) - before, 1, 'the principal, served stale (nothing else is 31 s old)');
    assert.equal((await t.as(token, { method: 'POST', url: '/v1/auth/logout' })).statusCode, 204);
    t.clock.advance(31_000);
    assert.equal((await t.as(token, { url: '/v1/me' })).statusCode, 401);
  });

  test('a session expires after its lifetime (fake clock)', async () => {
    const token = await t.login('analyst@initech.test');
    t.clock.advance(12 * 60 * 60 * 1000 - 1000);
    assert.equal((await t.as(token, { url: '/v1/me' })).statusCode, 200);
    t.clock.advance(2000);
    assert.equal((await t.as(token, { url: '/v1/me' })).statusCode, 401);
  });
});

describe('tenant header', () => {
  test('x-tenant-id that disagrees with the principal → 403; one that agrees is fine', async () => {
    const token = await t.login('analyst@acme.test');
    const mismatch = await t.as(token, { url: '/v1/cases/search', headers: { 'x-tenant-id': 'globex' } });
    assert.equal(mismatch.statusCode, 403);
    assert.equal(mismatch.json().code, 'HR_TENANT_MISMATCH');
    const agree = await t.as(token, { url: '/v1/cases/search', headers: { 'x-tenant-id': 'acme' } });
    assert.equal(agree.statusCode, 200);
  });
});

describe('API keys', () => {
  test('an admin creates a key shown once, stored hashed; it authenticates until revoked', async () => {
    const admin = await t.login('admin@acme.test');
    const created = await t.as(admin, { method: 'POST', url: '/v1/api-keys', payload: { name: 'ci' } });
    assert.equal(created.statusCode, 201);
    const { id, key } = created.json();
    assert.match(key, /^hrk_/);

    const stored = await t.db.pool.query('SELECT key_hash, prefix FROM api_keys WHERE id = $1', [id]);
    assert.notEqual(stored.rows[0].key_hash.toString('utf8'), key);
    assert.equal(stored.rows[0].prefix, key.slice(0, 8));

    const listed = await t.as(admin, { url: '/v1/api-keys' });
    assert.ok(!listed.body.includes(key), 'listing never shows the secret');

    assert.equal((await t.as(key, { url: '/v1/cases/search' })).statusCode, 200);
    assert.equal((await t.as(admin, { method: 'DELETE', url: `/v1/api-keys/${id}` })).statusCode, 204);
    assert.equal((await t.as(key, { url: '/v1/cases/search' })).statusCode, 401);
  });

  test('an analyst may not manage keys; an admin may not revoke another tenant’s key', async () => {
    const analyst = await t.login('analyst@acme.test');
    const res = await t.as(analyst, { method: 'POST', url: '/v1/api-keys', payload: { name: 'x' } });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'HR_FORBIDDEN');

    const acmeAdmin = await t.login('admin@acme.test');
    const globexAdmin = await t.login('admin@globex.test');
    const { id, key } = (
      await t.as(acmeAdmin, { method: 'POST', url: '/v1/api-keys', payload: { name: 'acme' } })
    ).json();
    const cross = await t.as(globexAdmin, { method: 'DELETE', url: `/v1/api-keys/${id}` });
    assert.equal(cross.statusCode, 404);
    assert.equal((await t.as(key, { url: '/v1/me' })).statusCode, 200, 'the key still works');
  });
});
