// Casebook's webhook events end to end: written in the transaction of the write that causes them (case.created,
// case.updated, comment.created; export.completed with the export job's completion), delivered to a real
// receiver on 127.0.0.2 and verified with the npm standardwebhooks package; the deliveries API (cursor pages,
// every attempt, retry, recover), tenant-scoped; metrics and the operators' list of failing endpoints.

import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { until } from '@headroom/dev-servers/until';
import { Webhook } from 'standardwebhooks';
import { startTestApp, type TestApp } from './support/app.ts';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
const received: Received[] = [];
const answers = new Map<string, (res: ServerResponse) => void>();
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    received.push({ path: req.url ?? '', headers: req.headers, body });
    (answers.get(req.url ?? '') ?? ((r) => r.writeHead(204).end()))(res);
  });
});
const at = (path: string) => received.filter((r) => r.path === path);

/**
 * Verifies a delivery with the standardwebhooks package. Casebook signs with its clock, which in tests is a fake
 * one months behind the wall clock: the verifier's five-minute tolerance is judged at the message's own time.
 */
function verify(secret: string, r: Received): { type: string; data: Record<string, unknown> } {
  const wallClock = Date.now;
  Date.now = () => Number(r.headers['webhook-timestamp']) * 1000;
  try {
    return new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as {
      type: string;
      data: Record<string, unknown>;
    };
  } finally {
    Date.now = wallClock;
  }
}

let t: TestApp;
let port: number;
let acmeAdmin: string;
let acme: string;
let globexAdmin: string;

before(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.2', resolve));
  port = (receiver.address() as AddressInfo).port;
  t = await startTestApp({
    listen: true,
    deps: {
      exportWorkers: 1,
      webhooks: {
        resolver: async () => [{ address: '127.0.0.2', family: 4 }],
        allowedHosts: [`receiver.test:${port}`],
        workers: 4,
      },
    },
  });
  acmeAdmin = await t.login('admin@acme.test');
  acme = await t.login('analyst@acme.test');
  globexAdmin = await t.login('admin@globex.test');
});
after(async () => {
  await t.close();
  receiver.closeAllConnections();
  receiver.close();
});

const hook = (path: string) => `http://receiver.test:${port}${path}`;
const allEvents = ['case.created', 'case.updated', 'comment.created', 'export.completed'];

async function endpoint(token: string, path: string, events = allEvents) {
  const res = await t.as(token, {
    method: 'POST',
    url: '/v1/webhooks',
    payload: { url: hook(path), events },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: number; secret: string };
}

let acmeHook: { id: number; secret: string };

test('each event is delivered, signed, from the transaction of its write; another tenant hears none of it', async () => {
  acmeHook = await endpoint(acmeAdmin, '/acme');
  await endpoint(globexAdmin, '/globex');

  const created = await t.as(acme, {
    method: 'POST',
    url: '/v1/cases',
    payload: { title: 'Webhook ring', priority: 'high' },
  });
  assert.equal(created.statusCode, 201);
  const caseId = created.json().id as number;
  const patched = await t.as(acme, {
    method: 'PATCH',
    url: `/v1/cases/${caseId}`,
    payload: { status: 'escalated' },
  });
  assert.equal(patched.statusCode, 200);
  const comment = await t.as(acme, {
    method: 'POST',
    url: `/v1/cases/${caseId}/comments`,
    payload: { body: 'seen twice' },
  });
  assert.equal(comment.statusCode, 201);
  const exported = await t.as(acme, {
    method: 'POST',
    url: '/v1/exports',
    payload: { kind: 'cases', format: 'csv', filter: { q: 'Webhook' } },
    headers: { 'idempotency-key': '"webhook-export-1"' },
  });
  assert.equal(exported.statusCode, 202, exported.body);

  await until(() => at('/acme').length === 4, { timeout: 10_000, what: 'four events at the receiver' });
  const byType = new Map<string, { type: string; data: Record<string, unknown> }>();
  for (const r of at('/acme')) {
    const payload = verify(acmeHook.secret, r);
    assert.match(String(r.headers['webhook-id']), /^msg_\d+$/);
    byType.set(payload.type, payload);
  }
  assert.deepEqual([...byType.keys()].sort(), [...allEvents].sort());
  assert.equal(byType.get('case.created')!.data.id, caseId);
  assert.equal(byType.get('case.updated')!.data.status, 'escalated');
  assert.deepEqual(byType.get('case.updated')!.data.changed, ['status']);
  assert.equal(byType.get('comment.created')!.data.case_id, caseId);
  assert.equal(byType.get('export.completed')!.data.id, exported.json().id);
  assert.equal(
    byType.get('export.completed')!.data.download_url,
    `/v1/exports/${exported.json().id}/download`,
  );
  assert.equal(at('/globex').length, 0, "globex's endpoint hears nothing of acme's");

  // A write that fails publishes nothing: the event is in its transaction.
  const { rows: before } = await t.db.pool.query('SELECT count(*)::int AS n FROM headroom.webhook_events');
  const refused = await t.as(acme, {
    method: 'POST',
    url: '/v1/cases',
    payload: { title: 'no such owner', owner_id: 999_999 },
  });
  assert.equal(refused.statusCode, 422, refused.body);
  const { rows: after } = await t.db.pool.query('SELECT count(*)::int AS n FROM headroom.webhook_events');
  assert.equal(after[0].n, before[0].n);
});

test('deliveries: cursor pages, every attempt, retry with the same webhook-id, recover; all tenant-scoped', async () => {
  await until(
    async () =>
      (await t.as(acmeAdmin, { url: `/v1/webhooks/${acmeHook.id}/deliveries?state=delivered` })).json().data
        .length === 4,
    { timeout: 10_000, what: 'four delivered' },
  );
  const first = await t.as(acmeAdmin, { url: `/v1/webhooks/${acmeHook.id}/deliveries?limit=3` });
  assert.equal(first.statusCode, 200);
  const page1 = first.json();
  assert.equal(page1.data.length, 3);
  assert.ok(page1.page.next_cursor);
  const page2 = (
    await t.as(acmeAdmin, {
      url: `/v1/webhooks/${acmeHook.id}/deliveries?limit=3&cursor=${page1.page.next_cursor}`,
    })
  ).json();
  assert.equal(page2.data.length, 1);
  assert.equal(page2.page.next_cursor, null);
  const ids = [...page1.data, ...page2.data].map((d: { id: number }) => d.id);
  assert.deepEqual(
    ids,
    [...ids].sort((a, b) => b - a),
    'newest first',
  );

  const one = page2.data[0] as { id: number; message_id: string };
  const detail = await t.as(acmeAdmin, { url: `/v1/webhooks/${acmeHook.id}/deliveries/${one.id}` });
  assert.equal(detail.statusCode, 200);
  assert.equal(detail.json().state, 'delivered');
  assert.equal(detail.json().history.length, 1);
  assert.equal(detail.json().history[0].status, 204);
  assert.equal(typeof detail.json().history[0].duration_ms, 'number');

  const before = at('/acme').length;
  const retried = await t.as(acmeAdmin, {
    method: 'POST',
    url: `/v1/webhooks/${acmeHook.id}/deliveries/${one.id}/retry`,
  });
  assert.equal(retried.statusCode, 202);
  await until(() => at('/acme').length === before + 1, { what: 'the redelivery' });
  assert.equal(at('/acme').at(-1)!.headers['webhook-id'], one.message_id);

  const recover = await t.as(acmeAdmin, {
    method: 'POST',
    url: `/v1/webhooks/${acmeHook.id}/recover`,
    payload: { since: '2026-01-01T00:00:00Z' },
  });
  assert.equal(recover.statusCode, 202);
  assert.equal(recover.json().redelivering, 0, 'nothing failed');

  // Another tenant's admin: 404 everywhere, nothing sent.
  for (const request of [
    { url: `/v1/webhooks/${acmeHook.id}/deliveries` },
    { url: `/v1/webhooks/${acmeHook.id}/deliveries/${one.id}` },
    { method: 'POST', url: `/v1/webhooks/${acmeHook.id}/deliveries/${one.id}/retry` },
    {
      method: 'POST',
      url: `/v1/webhooks/${acmeHook.id}/recover`,
      payload: { since: '2026-01-01T00:00:00Z' },
    },
  ]) {
    const res = await t.as(globexAdmin, request);
    assert.equal(res.statusCode, 404, `${request.url}: ${res.body}`);
  }
  assert.equal(at('/acme').length, before + 1);
  // An analyst is not an admin.
  assert.equal((await t.as(acme, { url: `/v1/webhooks/${acmeHook.id}/deliveries` })).statusCode, 403);
  // Bad input: a made-up cursor, an unknown state, a bad date.
  for (const [url, field] of [
    [`/v1/webhooks/${acmeHook.id}/deliveries?cursor=WzFd_`, 'query.cursor'],
    [`/v1/webhooks/${acmeHook.id}/deliveries?state=lost`, 'query'],
  ] as const) {
    const res = await t.as(acmeAdmin, { url });
    assert.equal(res.statusCode, 400, url);
    assert.match(res.json().field ?? '', new RegExp(`^${field.replace('.', '\\.')}`));
  }
  const badSince = await t.as(acmeAdmin, {
    method: 'POST',
    url: `/v1/webhooks/${acmeHook.id}/recover`,
    payload: { since: 'yesterday' },
  });
  assert.equal(badSince.statusCode, 400);
});

test('a failing endpoint: attempts recorded with the answer, failing_since set, listed for operators, counted in /metrics', async () => {
  const failing = await endpoint(acmeAdmin, '/broken', ['comment.created']);
  answers.set('/broken', (res) =>
    res.writeHead(500, { 'content-type': 'text/plain' }).end('database is down'),
  );
  const caseId = (
    await t.as(acme, { method: 'POST', url: '/v1/cases', payload: { title: 'broken receiver' } })
  ).json().id;
  await t.as(acme, { method: 'POST', url: `/v1/cases/${caseId}/comments`, payload: { body: 'x' } });
  // The spec's schedule retries the first failure at once; the next waits 5 s (the fake clock stays put).
  await until(() => at('/broken').length === 2, { what: 'two attempts' });
  const deliveries = async () =>
    (await t.as(acmeAdmin, { url: `/v1/webhooks/${failing.id}/deliveries` })).json().data;
  await until(async () => (await deliveries())[0]?.attempts === 2, { what: 'both attempts recorded' });
  const [delivery] = await deliveries();
  assert.equal(delivery.state, 'pending');
  assert.equal(delivery.last_status, 500);
  const detail = (
    await t.as(acmeAdmin, { url: `/v1/webhooks/${failing.id}/deliveries/${delivery.id}` })
  ).json();
  assert.deepEqual(
    detail.history.map((h: { status: number; response: string }) => [h.status, h.response]),
    [
      [500, 'database is down'],
      [500, 'database is down'],
    ],
  );
  const shown = (await t.as(acmeAdmin, { url: `/v1/webhooks/${failing.id}` })).json();
  assert.ok(shown.failing_since, 'failing_since is set');

  const failingList = await t.operator({ url: '/admin/webhooks/failing' });
  assert.equal(failingList.statusCode, 200);
  assert.ok(failingList.json().data.some((e: { id: string }) => e.id === String(failing.id)));
  assert.equal((await t.as(acmeAdmin, { url: '/admin/webhooks/failing' })).statusCode, 403, 'operators only');

  t.clock.advance(2_000); // past the counts' one-second reuse
  const metrics = (await t.operator({ url: '/metrics' })).body;
  assert.match(metrics, /headroom_webhook_attempts_total\{result="delivered"\} [1-9]/);
  assert.match(metrics, /headroom_webhook_attempts_total\{result="retry"\} 2/);
  assert.match(metrics, /headroom_webhook_pending\{endpoint_state="failing"\} 1/);
  assert.match(metrics, /headroom_webhook_endpoints\{state="failing"\} 1/);
  assert.match(metrics, /headroom_webhook_delivery_seconds_count [1-9]/);
  answers.delete('/broken');
});
