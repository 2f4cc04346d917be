// Idempotency-Key on casebook's create routes: a retried create applies once, across tenants and users
// keys stay apart, and the record commits with the write (PostgreSQL, one transaction).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { idempotencyTableSql } from '@headroom/core/idempotency/postgres';
import { startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let acme: string;
let acmeAdmin: string;
let globex: string;

before(async () => {
  t = await startTestApp();
  acme = await t.login('analyst@acme.test');
  acmeAdmin = await t.login('admin@acme.test');
  globex = await t.login('analyst@globex.test');
});
after(() => t.close());

const count = async (sql: string, values: unknown[]) =>
  (await t.db.pool.query(`SELECT count(*)::int AS n FROM ${sql}`, values)).rows[0].n as number;

test('POST /v1/cases retried with its key creates one case and replays the answer', async () => {
  const key = { 'idempotency-key': '"create-case-1"' };
  const title = `idempotent ${Date.now()}`;
  const first = await t.as(acme, { method: 'POST', url: '/v1/cases', payload: { title }, headers: key });
  assert.equal(first.statusCode, 201);
  const again = await t.as(acme, { method: 'POST', url: '/v1/cases', payload: { title }, headers: key });
  assert.equal(again.statusCode, 201);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(again.body, first.body);
  assert.equal(again.headers.location, first.headers.location);
  assert.equal(again.headers.etag, first.headers.etag);
  assert.equal(await count('cases WHERE title = $1', [title]), 1);
  const other = await t.as(acme, {
    method: 'POST',
    url: '/v1/cases',
    payload: { title: 'else' },
    headers: key,
  });
  assert.equal(other.statusCode, 422);
  assert.equal(other.json().code, 'HR_IDEMPOTENCY_KEY_REUSED');
});

test('the same key from another user or another tenant is another key', async () => {
  const key = { 'idempotency-key': '"shared"' };
  const title = `shared ${Date.now()}`;
  for (const token of [acme, acmeAdmin, globex]) {
    const res = await t.as(token, { method: 'POST', url: '/v1/cases', payload: { title }, headers: key });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['idempotent-replayed'], undefined);
  }
  assert.equal(await count('cases WHERE title = $1', [title]), 3);
});

test('comments and entities take a key too; a request without one runs as before', async () => {
  const caseId = (
    await t.as(acme, { method: 'POST', url: '/v1/cases', payload: { title: 'to comment' } })
  ).json().id;
  const body = `note ${Date.now()}`;
  const key = { 'idempotency-key': '"comment-1"' };
  for (let i = 0; i < 2; i++) {
    const res = await t.as(acme, {
      method: 'POST',
      url: `/v1/cases/${caseId}/comments`,
      payload: { body },
      headers: key,
    });
    assert.equal(res.statusCode, 201);
  }
  assert.equal(await count('comments WHERE body = $1', [body]), 1);
  assert.equal(await count('events WHERE case_id = $1 AND kind = $2', [caseId, 'comment_added']), 1);
  const name = `entity ${Date.now()}`;
  const entityKey = { 'idempotency-key': 'entity-1' }; // a bare key reads as the same key as "entity-1"
  const made = await t.as(acme, {
    method: 'POST',
    url: '/v1/entities',
    payload: { kind: 'person', name },
    headers: entityKey,
  });
  const remade = await t.as(acme, {
    method: 'POST',
    url: '/v1/entities',
    payload: { name, kind: 'person' },
    headers: { 'idempotency-key': '"entity-1"' },
  });
  assert.equal(made.statusCode, 201);
  assert.equal(remade.headers['idempotent-replayed'], 'true');
  assert.equal(remade.headers.location, made.headers.location);
  assert.equal(await count('entities WHERE name = $1', [name]), 1);
  const plain = await t.as(acme, { method: 'POST', url: '/v1/entities', payload: { kind: 'person', name } });
  assert.equal(plain.statusCode, 201);
});

test('the record is in PostgreSQL, committed with the case; a failed create keeps nothing', async () => {
  const before = await count('headroom_idempotency', []);
  const res = await t.as(acme, {
    method: 'POST',
    url: '/v1/cases',
    payload: { title: 'owned', owner_id: 2_000_000_000 }, // no such user: a 422 from the foreign key
    headers: { 'idempotency-key': '"bad-owner"' },
  });
  assert.equal(res.statusCode, 422);
  const kept = await t.db.pool.query(
    `SELECT response->>'status' AS status FROM headroom_idempotency WHERE response IS NOT NULL ORDER BY expires_at DESC LIMIT 1`,
  );
  assert.equal(kept.rows[0]?.status, '422', 'a 4xx after the handler started is kept, as Stripe does');
  assert.equal(await count('headroom_idempotency', []), before + 1);
});

test('the migration creates exactly the table the store expects', async () => {
  const migration = await readFile(join(import.meta.dirname, '../migrations/002_idempotency.sql'), 'utf8');
  const statements = (text: string) =>
    text
      .replace(/--.*$/gm, '')
      .split(';')
      .map((s) => s.replace(/\s+/g, ' ').trim())
      .filter(Boolean);
  assert.deepEqual(statements(migration), statements(idempotencyTableSql()));
});
