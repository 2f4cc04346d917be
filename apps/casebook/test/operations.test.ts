// Health and metrics of casebook as a whole: readiness follows migrations and the database.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../src/app.ts';
import { migrate } from '../src/db/migrate.ts';
import { startTestApp } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';

test('/health/ready is 503 until migrations are applied, then 200; /health/live is always 200', async () => {
  const db = await createTestDatabase({ migrated: false });
  const app = await buildApp({ pool: db.pool });
  try {
    assert.equal((await app.inject({ url: '/health/live' })).statusCode, 200);
    const before = await app.inject({ url: '/health/ready' });
    assert.equal(before.statusCode, 503);
    assert.equal(before.json().code, 'HR_NOT_READY');
    await migrate(db.pool);
    assert.equal((await app.inject({ url: '/health/ready' })).statusCode, 200);
  } finally {
    await app.close();
    await db.close();
  }
});

test('/health/ready is 503 when the database stops answering', async () => {
  const db = await createTestDatabase();
  const app = await buildApp({ pool: db.pool });
  try {
    assert.equal((await app.inject({ url: '/health/ready' })).statusCode, 200);
    await db.drop();
    const res = await app.inject({ url: '/health/ready' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().checks['database:responseTime'][0].status, 'fail');
  } finally {
    await app.close();
    await db.close();
  }
});

test('/metrics labels requests by route template, never by raw URL', async () => {
  const t = await startTestApp();
  try {
    const token = await t.login('analyst@acme.test');
    for (const id of [1, 2, 3]) await t.as(token, { url: `/v1/cases/${id}?expand=owner` });
    await t.app.inject({ url: '/no/such/path/42' });
    const text = (await t.operator({ url: '/metrics' })).body;
    assert.match(text, /http_requests_total\{[^}]*route="\/v1\/cases\/:id"[^}]*\} 3/);
    assert.match(text, /http_request_duration_seconds_bucket\{[^}]*route="\/v1\/cases\/:id"/);
    assert.match(text, /route="__unmatched__"/);
    assert.doesNotMatch(text, /\/v1\/cases\/1/);
    assert.match(text, /headroom_build_info\{[^}]*version="[^"]+"[^}]*commit="[^"]+"/);
  } finally {
    await t.close();
  }
});
