// Exports: requested with a required Idempotency-Key (the export, its job and the key's record in one
// transaction), polled with ETags, followed as Server-Sent Events, downloaded as a stream (gzip when asked),
// tenant-scoped everywhere, refused while the kill switch is on; and the job writing the file in chunks.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { jobsSchemaSql } from '@headroom/core/jobs';
import { webhooksSchemaSql } from '@headroom/core/webhooks';
import { exportJob } from '../src/exports/export-job.ts';
import { csvCell } from '../src/exports/formats.ts';
import { startTestApp, type TestApp } from './support/app.ts';

let t: TestApp;
let acme: string;
let globex: string;
let initech: string;

before(async () => {
  t = await startTestApp({
    listen: true,
    deps: {
      exportWorkers: 0, // each test starts a worker when it wants exports to run
      exportEvents: { streamLimit: 60_000 },
    },
  });
  acme = await t.login('analyst@acme.test');
  globex = await t.login('analyst@globex.test');
  initech = await t.login('analyst@initech.test');
});
after(() => t.close());

/** An export worker as buildApp starts one; `stop()` it to keep exports queued. */
const startWorker = () => t.app.headroom.jobs.jobs!.work('exports', exportJob(t.db.pool), { concurrency: 2 });

const key = (k: string) => ({ 'idempotency-key': `"${k}"` });
const request = (token: string, k: string, body: unknown = { kind: 'cases', format: 'csv' }) =>
  t.as(token, { method: 'POST', url: '/v1/exports', payload: body, headers: key(k) });

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`gave up waiting: ${what}`);
}

const statusOf = async (token: string, id: number) =>
  (await t.as(token, { url: `/v1/exports/${id}` })).json().status as string;

test('the latest queue migration holds the same DDL as jobsSchemaSql() and webhooksSchemaSql()', async () => {
  const migration = await readFile(
    join(import.meta.dirname, '..', 'migrations', '007_webhook_throughput.sql'),
    'utf8',
  );
  const regenerate =
    'regenerate migrations/007_webhook_throughput.sql from jobsSchemaSql() + webhooksSchemaSql()';
  assert.ok(migration.includes(jobsSchemaSql()), regenerate);
  assert.ok(migration.includes(webhooksSchemaSql()), regenerate);
});

test('POST /v1/exports needs a key and a valid body; with them: 202, Location, queued, and a retry replays it', async () => {
  const missing = await t.as(acme, {
    method: 'POST',
    url: '/v1/exports',
    payload: { kind: 'cases', format: 'csv' },
  });
  assert.equal(missing.statusCode, 400);
  assert.equal(missing.json().code, 'HR_IDEMPOTENCY_KEY_MISSING');
  const bad = await request(acme, 'bad-format', { kind: 'cases', format: 'xlsx' });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.body, /format/);

  const worker = startWorker();
  const before = (await t.db.pool.query('SELECT count(*)::int AS n FROM exports')).rows[0].n;
  const first = await request(acme, 'export-1', {
    kind: 'cases',
    format: 'ndjson',
    filter: { status: 'open' },
  });
  assert.equal(first.statusCode, 202);
  const { id, status } = first.json();
  assert.equal(status, 'queued');
  assert.equal(first.headers.location, `/v1/exports/${id}`);
  const again = await request(acme, 'export-1', {
    kind: 'cases',
    format: 'ndjson',
    filter: { status: 'open' },
  });
  assert.equal(again.statusCode, 202);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(again.body, first.body);
  assert.equal((await t.db.pool.query('SELECT count(*)::int AS n FROM exports')).rows[0].n, before + 1);
  const jobs = await t.db.pool.query(
    `SELECT j.tenant, j.tenant_limit FROM exports e JOIN headroom.jobs j ON j.id = e.job_id WHERE e.id = $1`,
    [id],
  );
  assert.equal(jobs.rows.length, 1, 'one job, enqueued with the export');
  assert.equal(jobs.rows[0].tenant_limit, 4, 'enterprise: four exports at once');
  const reused = await request(acme, 'export-1', { kind: 'cases', format: 'csv' });
  assert.equal(reused.statusCode, 422);
  await until(async () => (await statusOf(acme, id)) === 'done', 'the export ran');
  await worker.stop();
});

test('an export runs to done: polled with If-None-Match (304 while unchanged), downloaded whole, gzip when asked', async () => {
  const created = await request(initech, 'export-csv');
  const { id } = created.json();
  const tier = await t.db.pool.query(
    'SELECT j.tenant_limit FROM exports e JOIN headroom.jobs j ON j.id = e.job_id WHERE e.id = $1',
    [id],
  );
  assert.equal(tier.rows[0].tenant_limit, 1, 'free tier: one export at once');

  const queued = await t.as(initech, { url: `/v1/exports/${id}` });
  assert.equal(queued.statusCode, 200);
  assert.equal(queued.json().status, 'queued');
  assert.equal(queued.headers['retry-after'], '1');
  const etag = queued.headers.etag as string;
  assert.ok(etag);
  const unchanged = await t.as(initech, { url: `/v1/exports/${id}`, headers: { 'if-none-match': etag } });
  assert.equal(unchanged.statusCode, 304);
  const early = await t.as(initech, { url: `/v1/exports/${id}/download` });
  assert.equal(early.statusCode, 409);
  assert.equal(early.json().code, 'HR_EXPORT_NOT_READY');
  assert.equal(early.headers['retry-after'], '1');

  const worker = startWorker();
  await until(async () => (await statusOf(initech, id)) === 'done', 'done');
  await worker.stop();
  const done = await t.as(initech, { url: `/v1/exports/${id}`, headers: { 'if-none-match': etag } });
  assert.equal(done.statusCode, 200, 'changed: a new body, not a 304');
  const view = done.json();
  assert.equal(view.progress, 100);
  assert.equal(done.headers['retry-after'], undefined);
  const total = (
    await t.db.pool.query(
      `SELECT count(*)::int AS n FROM cases WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'initech')`,
    )
  ).rows[0].n;
  assert.equal(view.rows, total);

  const file = await t.as(initech, {
    url: `/v1/exports/${id}/download`,
    headers: { 'accept-encoding': 'identity' },
  });
  assert.equal(file.statusCode, 200);
  assert.match(String(file.headers['content-type']), /^text\/csv/);
  assert.match(String(file.headers['content-disposition']), new RegExp(`cases-export-${id}\\.csv`));
  const lines = file.body.trimEnd().split('\r\n');
  assert.equal(lines[0], 'id,title,status,priority,owner_id,created_at,updated_at');
  assert.equal(lines.length, total + 1);
  assert.equal(Buffer.byteLength(file.body), view.bytes);
  const gzipped = await t.as(initech, {
    url: `/v1/exports/${id}/download`,
    headers: { 'accept-encoding': 'gzip' },
  });
  assert.equal(gzipped.headers['content-encoding'], 'gzip');
  assert.equal(gunzipSync(gzipped.rawPayload).toString(), file.body);
});

test("another tenant's export is a 404 everywhere: status, events, download", async () => {
  const { id } = (await request(acme, 'export-private')).json();
  for (const url of [`/v1/exports/${id}`, `/v1/exports/${id}/events`, `/v1/exports/${id}/download`]) {
    const res = await t.as(globex, { url });
    assert.equal(res.statusCode, 404, url);
  }
});

test('the kill switch: while exports are paused, a new export is 503 with Retry-After, and its key is free again', async () => {
  await t.app.headroom.jobs.jobs!.pause('exports');
  const refused = await request(globex, 'while-paused');
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.json().code, 'HR_JOB_QUEUE_PAUSED');
  assert.ok(Number(refused.headers['retry-after']) > 0);
  await t.app.headroom.jobs.jobs!.resume('exports');
  const accepted = await request(globex, 'while-paused');
  assert.equal(accepted.statusCode, 202, 'the 503 did not keep the key');
});

test('events: one status event at once and one per change, ending when the export is done', async () => {
  const { id } = (await request(globex, 'export-events')).json();
  let ended = false;
  const streaming = t.as(globex, { url: `/v1/exports/${id}/events` }).finally(() => {
    ended = true;
  });
  const worker = startWorker();
  // The stream looks every 500 ms of the fake clock, and ends at 60 s of it: small steps leave the worker (real
  // time) many chances to finish before the stream's limit, even on a busy machine.
  for (let i = 0; i < 2_000 && !ended; i++) {
    t.clock.advance(100);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const res = await streaming;
  await worker.stop();
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  const events = res.body
    .split('\n\n')
    .filter(Boolean)
    .map((block) =>
      JSON.parse(
        block
          .split('\n')
          .find((line) => line.startsWith('data: '))!
          .slice(6),
      ),
    );
  assert.equal(events[0].status, 'queued');
  assert.equal(events.at(-1).status, 'done');
  assert.ok(
    new Set(events.map((e) => JSON.stringify(e))).size === events.length,
    'no event repeats the one before',
  );
});

test('event streams are bounded: 20 open per tenant, the next 503 HR_OVERLOADED; another tenant still gets one', async () => {
  const { id } = (await request(acme, 'export-streams')).json();
  const streams = t.app.headroom.protection.bulkheads.get('export-events')!;
  const open: Promise<unknown>[] = [];
  for (let i = 0; i < 20; i++) open.push(t.as(acme, { url: `/v1/exports/${id}/events` }));
  await until(async () => streams.stats().inflight === 20, 'twenty streams open');
  const refused = await t.as(acme, { url: `/v1/exports/${id}/events` });
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.json().code, 'HR_OVERLOADED');
  assert.equal(refused.headers['retry-after'], '5');
  const other = (await request(globex, 'export-streams-other')).json();
  let otherEnded = false;
  open.push(
    t.as(globex, { url: `/v1/exports/${other.id}/events` }).then((res) => {
      otherEnded = true;
      assert.equal(res.statusCode, 200, 'another tenant is not refused');
    }),
  );
  await until(async () => streams.stats().inflight === 21 || otherEnded, "the other tenant's stream open");
  // The export never runs here (no worker): each stream ends at its time limit (60 s in this app).
  for (let i = 0; i < 400 && streams.stats().inflight > 0; i++) {
    t.clock.advance(500);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(open);
  assert.equal(streams.stats().inflight, 0, 'every stream gave its slot back');
});

test('buildApp runs export workers once start-up work is done', async () => {
  let started!: () => void;
  const startup = new Promise<void>((resolve) => (started = resolve));
  const other = await startTestApp({ deps: { startup } });
  try {
    started();
    await startup;
    const token = await other.login('analyst@globex.test');
    const created = await other.as(token, {
      method: 'POST',
      url: '/v1/exports',
      payload: { kind: 'cases', format: 'ndjson' },
      headers: key('after-startup'),
    });
    assert.equal(created.statusCode, 202);
    const { id } = created.json();
    // No LISTEN here: the worker polls, every second of the fake clock.
    await until(async () => {
      other.clock.advance(1_000);
      return (await other.as(token, { url: `/v1/exports/${id}` })).json().status === 'done';
    }, "the app's own worker ran it");
    const file = await other.as(token, { url: `/v1/exports/${id}/download` });
    const first = JSON.parse(file.body.split('\n')[0]!);
    assert.deepEqual(Object.keys(first), [
      'id',
      'title',
      'status',
      'priority',
      'owner_id',
      'created_at',
      'updated_at',
    ]);
  } finally {
    await other.close();
  }
});

test('the export job writes the file in chunks, a page at a time; a retry starts the file over', async () => {
  const tenant = (await t.db.pool.query(`SELECT id FROM tenants WHERE slug = 'acme'`)).rows[0].id;
  const user = (await t.db.pool.query(`SELECT id FROM users WHERE tenant_id = $1 LIMIT 1`, [tenant])).rows[0]
    .id;
  await t.db.pool.query(
    `INSERT INTO cases (tenant_id, title, status, priority, created_at, updated_at)
     VALUES ($1, '=HYPERLINK("http://x")', 'open', 'low', now(), now())`,
    [tenant],
  );
  const exportId = (
    await t.db.pool.query(
      `INSERT INTO exports (tenant_id, user_id, kind, format, filter, created_at)
       VALUES ($1, $2, 'cases', 'csv', '{}', now()) RETURNING id`,
      [tenant, user],
    )
  ).rows[0].id;
  const progress: string[] = [];
  const run = exportJob(t.db.pool, { pageSize: 40, chunkBytes: 2_048 });
  const job = {
    id: '1',
    queue: 'exports',
    tenant: String(tenant),
    payload: { exportId: Number(exportId) },
    attempt: 1,
    maxAttempts: 1,
    createdAt: 0,
    progress: async (_percent: number, message?: string) => {
      progress.push(message ?? '');
    },
  };
  const first = (await run(job, new AbortController().signal)) as { rows: number; bytes: number };
  const chunks = async () =>
    (await t.db.pool.query('SELECT count(*)::int AS n FROM export_chunks WHERE export_id = $1', [exportId]))
      .rows[0].n;
  const stored = await chunks();
  assert.ok(stored > 3, `${stored} chunks of at most about 2 KB`);
  assert.ok(progress.length >= 3, `progress per page: ${progress.join(' | ')}`);
  const second = (await run(job, new AbortController().signal)) as { rows: number; bytes: number };
  assert.deepEqual(second, first, 'the same file again');
  assert.equal(await chunks(), stored, 'the earlier chunks were replaced, not added to');
  const file = Buffer.concat(
    (
      await t.db.pool.query('SELECT data FROM export_chunks WHERE export_id = $1 ORDER BY seq', [exportId])
    ).rows.map((r) => r.data as Buffer),
  ).toString();
  assert.ok(file.includes(`'=HYPERLINK(""http://x"")`), 'a formula in a title is defused');
  assert.equal(file.trimEnd().split('\r\n').length, first.rows + 1);
  const aborted = new AbortController();
  aborted.abort(new Error('stop'));
  await assert.rejects(async () => run(job, aborted.signal), /stop/);
});

test('csvCell quotes what needs quoting and defuses formulas', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('line\nbreak'), '"line\nbreak"');
  assert.equal(csvCell('=1+1'), "'=1+1");
  assert.equal(csvCell('-5'), "'-5");
  assert.equal(csvCell(-5), '-5', 'a number is a number');
  assert.equal(csvCell(null), '');
});
