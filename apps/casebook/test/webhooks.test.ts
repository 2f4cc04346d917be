// Webhook endpoints: a tenant admin's only, tenant-scoped, the secret shown once (at creation and rotation), URLs
// vetted for egress on create and change (names resolved by an injected resolver: nothing is sent anywhere).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Resolver } from '@headroom/core/webhooks';
import { startTestApp, type TestApp } from './support/app.ts';

// hooks.acme.example is public; internal.acme.example resolves into the office network.
const resolver: Resolver = async (host) => {
  if (host === 'hooks.acme.example') return [{ address: '93.184.216.34', family: 4 }];
  if (host === 'internal.acme.example') return [{ address: '10.20.30.40', family: 4 }];
  if (host === 'receiver.test') return [{ address: '127.0.0.1', family: 4 }];
  throw new Error(`ENOTFOUND ${host}`);
};

let t: TestApp;
let admin: string;
let analyst: string;
let globexAdmin: string;
before(async () => {
  t = await startTestApp({ deps: { webhooks: { resolver, allowedHosts: ['receiver.test:9000'] } } });
  admin = await t.login('admin@acme.test');
  analyst = await t.login('analyst@acme.test');
  globexAdmin = await t.login('admin@globex.test');
});
after(() => t.close());

const create = (token: string, payload: unknown) =>
  t.as(token, { method: 'POST', url: '/v1/webhooks', payload });

test('create: 201 with Location and the secret, once; list and get never show it', async () => {
  const res = await create(admin, {
    url: 'https://hooks.acme.example/casebook',
    events: ['case.created', 'comment.created'],
    description: 'triage bot',
  });
  assert.equal(res.statusCode, 201);
  const body = res.json();
  assert.match(body.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
  assert.equal(res.headers.location, `/v1/webhooks/${body.id}`);
  assert.deepEqual(
    { url: body.url, events: body.events, enabled: body.enabled, description: body.description },
    {
      url: 'https://hooks.acme.example/casebook',
      events: ['case.created', 'comment.created'],
      enabled: true,
      description: 'triage bot',
    },
  );
  const got = (await t.as(admin, { url: `/v1/webhooks/${body.id}` })).json();
  assert.equal(got.secret, undefined);
  const list = (await t.as(admin, { url: '/v1/webhooks' })).json();
  assert.ok(list.data.some((e: { id: number }) => e.id === body.id));
  assert.ok(list.data.every((e: { secret?: string }) => e.secret === undefined));
});

test('a URL that resolves into a private range, a loopback literal or another scheme is 422 with its reason', async () => {
  for (const [url, reason] of [
    ['https://internal.acme.example/hook', 'private'],
    ['http://127.0.0.1:8080/hook', 'loopback'],
    ['http://[::ffff:169.254.169.254]/latest', 'ipv4Mapped'],
    ['file:///etc/passwd', 'scheme'],
    ['https://nowhere.acme.example/', 'unresolvable'],
  ] as const) {
    const res = await create(admin, { url, events: ['case.created'] });
    assert.equal(res.statusCode, 422, url);
    const problem = res.json();
    assert.equal(problem.code, 'HR_WEBHOOK_URL_FORBIDDEN', url);
    assert.equal(problem.reason, reason, url);
    assert.equal(problem.field, 'url');
  }
  const local = await create(admin, { url: 'http://receiver.test:9000/hook', events: ['case.created'] });
  assert.equal(local.statusCode, 201, 'WEBHOOK_ALLOWED_HOSTS lets a local receiver through');
});

test('only admins, only of their tenant: analysts 403, another tenant 404 on get, change, delete and rotate', async () => {
  const { id } = (
    await create(admin, { url: 'https://hooks.acme.example/a', events: ['case.updated'] })
  ).json();
  assert.equal(
    (await create(analyst, { url: 'https://hooks.acme.example/b', events: ['case.updated'] })).statusCode,
    403,
  );
  assert.equal((await t.as(analyst, { url: '/v1/webhooks' })).statusCode, 403);
  for (const request of [
    { url: `/v1/webhooks/${id}` },
    { method: 'PATCH', url: `/v1/webhooks/${id}`, payload: { enabled: false } },
    { method: 'POST', url: `/v1/webhooks/${id}/rotate-secret` },
    { method: 'DELETE', url: `/v1/webhooks/${id}` },
  ]) {
    assert.equal(
      (await t.as(globexAdmin, request)).statusCode,
      404,
      `${request.method ?? 'GET'} ${request.url}`,
    );
  }
  assert.equal((await t.as(admin, { url: `/v1/webhooks/${id}` })).statusCode, 200, 'still there');
  const listed = (await t.as(globexAdmin, { url: '/v1/webhooks' })).json();
  assert.ok(listed.data.every((e: { id: number }) => e.id !== id));
});

test('PATCH changes url, events and enabled (a new URL is vetted again); DELETE removes; rotation keeps the old secret 24 h', async () => {
  const created = (
    await create(admin, { url: 'https://hooks.acme.example/c', events: ['case.created'] })
  ).json();
  const changed = await t.as(admin, {
    method: 'PATCH',
    url: `/v1/webhooks/${created.id}`,
    payload: { events: ['export.completed'], enabled: false },
  });
  assert.equal(changed.statusCode, 200);
  assert.deepEqual([changed.json().events, changed.json().enabled], [['export.completed'], false]);
  const internal = await t.as(admin, {
    method: 'PATCH',
    url: `/v1/webhooks/${created.id}`,
    payload: { url: 'https://internal.acme.example/x' },
  });
  assert.equal(internal.statusCode, 422);
  assert.equal(internal.json().reason, 'private');
  assert.equal(
    (await t.as(admin, { method: 'PATCH', url: `/v1/webhooks/${created.id}`, payload: {} })).statusCode,
    400,
  );

  const rotated = await t.as(admin, { method: 'POST', url: `/v1/webhooks/${created.id}/rotate-secret` });
  assert.equal(rotated.statusCode, 200);
  assert.notEqual(rotated.json().secret, created.secret);
  assert.equal(Date.parse(rotated.json().previous_secret_expires_at) - t.clock.now(), 24 * 3_600_000);
  const stored = await t.db.pool.query(
    'SELECT secret, previous_secret FROM headroom.webhook_endpoints WHERE id = $1',
    [created.id],
  );
  assert.deepEqual(stored.rows[0], { secret: rotated.json().secret, previous_secret: created.secret });

  assert.equal((await t.as(admin, { method: 'DELETE', url: `/v1/webhooks/${created.id}` })).statusCode, 204);
  assert.equal((await t.as(admin, { url: `/v1/webhooks/${created.id}` })).statusCode, 404);
});

test('bad bodies: unknown events, empty or repeated event lists, unknown members are 400 naming the field', async () => {
  for (const payload of [
    { url: 'https://hooks.acme.example/', events: ['case.deleted'] },
    { url: 'https://hooks.acme.example/', events: [] },
    { url: 'https://hooks.acme.example/', events: ['case.created', 'case.created'] },
    { url: 'https://hooks.acme.example/', events: ['case.created'], secret: 'whsec_mine' },
  ]) {
    const res = await create(admin, payload);
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    assert.match(res.json().field ?? '', /^body/);
  }
});
