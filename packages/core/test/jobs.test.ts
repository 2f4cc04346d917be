// The job queue on a real PostgreSQL: transactional enqueue, NOTIFY wake-up, retries with backoff into the
// dead-letter state and redrive, progress, fairness between tenants, per-tenant limits, the kill switch,
// cancellation, time limits, graceful stop, and a worker killed with SIGKILL whose job runs again.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { FakeClock } from '../src/clock/index.ts';
import { isHeadroomError } from '../src/errors/index.ts';
import { createJobs, type JobEndEvent, type Jobs, jobsSchemaSql } from '../src/jobs/index.ts';

const admin = new pg.Pool({ connectionString: process.env.HEADROOM_TEST_PG_URL, max: 1 });
const database = `jobs_${process.pid}_${Date.now()}`;
let url: string;
let pool: pg.Pool;
const clients: pg.Client[] = [];

before(async () => {
  await admin.query(`CREATE DATABASE ${database}`);
  const u = new URL(process.env.HEADROOM_TEST_PG_URL!);
  u.pathname = `/${database}`;
  url = u.href;
  pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) in after() ends idle connections
  await pool.query(jobsSchemaSql());
  await pool.query('CREATE TABLE writes (id serial PRIMARY KEY, note text NOT NULL)');
});
after(async () => {
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

/** A LISTEN connection, as an app opens one (directly, not through a transaction pooler). */
async function listen(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  return client;
}

/** Waits for `condition` by looking again after each turn of I/O, at most `tries` times (no clock involved). */
async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  tries = 2_000,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`gave up waiting: ${what}`);
}

let queues = 0;
/** A queue name of its own for each test: they share one database. */
const fresh = (name: string) => `${name}-${++queues}`;

async function stateOf(jobs: Jobs, id: string) {
  return (await jobs.get(id))?.state;
}

test('enqueue in the caller transaction: a rollback leaves no job, a commit wakes a worker through NOTIFY', async () => {
  const jobs = createJobs({ db: pool, listen });
  const queue = fresh('tx');
  const ran: unknown[] = [];
  // Polling every minute: only the NOTIFY can wake it in time.
  const worker = jobs.work(queue, async (job) => ran.push(job.payload), { pollInterval: 60_000 });
  await until(() => worker.running === 0, 'worker idle');

  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    await tx.query(`INSERT INTO writes (note) VALUES ('rolled back')`);
    const { id } = await jobs.enqueue(tx, queue, { n: 1 });
    await tx.query('ROLLBACK');
    assert.equal(await jobs.get(id), undefined, 'rolled back with the write');

    await tx.query('BEGIN');
    await tx.query(`INSERT INTO writes (note) VALUES ('committed')`);
    const second = await jobs.enqueue(tx, queue, { n: 2 });
    assert.equal((await jobs.get(second.id))?.state, undefined, 'invisible to others before the commit');
    await tx.query('COMMIT');
    await until(async () => (await stateOf(jobs, second.id)) === 'done', 'the committed job ran');
  } finally {
    tx.release();
  }
  assert.deepEqual(ran, [{ n: 2 }]);
  await jobs.stop();
});

test('SQL can enqueue too: headroom.add_job in a transaction (a trigger, another language) wakes a worker at commit', async () => {
  const jobs = createJobs({ db: pool, listen });
  const queue = fresh('sql');
  const ran: unknown[] = [];
  jobs.work(queue, async (job) => ran.push([job.tenant, job.payload]), { pollInterval: 60_000 });
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(`SELECT headroom.add_job($1, '{"from": "sql"}', 'acme') AS id`, [
      queue,
    ]);
    assert.ok(Number(rows[0].id) > 0);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  await until(() => ran.length === 1, 'run, woken by the NOTIFY add_job sent at commit');
  assert.deepEqual(ran, [['acme', { from: 'sql' }]]);
  await jobs.stop();
});

test('a failing job is retried after a jittered backoff, then dead; redrive runs it again', async () => {
  const clock = new FakeClock({ now: 1_000_000 });
  const jobs = createJobs({ db: pool, clock, random: () => 0.5 });
  const queue = fresh('retry');
  let fail = true;
  const ends: JobEndEvent[] = [];
  const worker = jobs.work(
    queue,
    async () => {
      if (fail) throw new Error('upstream said no');
      return { ok: true };
    },
    { pollInterval: 100, backoff: { initialDelay: 1_000 } },
  );
  worker.onEnd((e) => ends.push(e));
  const { id } = await jobs.enqueue(undefined, queue, {}, { maxAttempts: 3 });
  worker.wake();
  await until(() => ends.length === 1, 'first attempt');
  let job = (await jobs.get(id))!;
  assert.equal(job.state, 'ready');
  assert.equal(job.attempts, 1);
  assert.equal(job.runAt - clock.now(), 500, 'full jitter: 0.5 × 1,000 ms');
  assert.match(job.lastError!, /upstream said no/);

  clock.advance(499);
  await until(() => !worker.running, 'idle');
  assert.equal(ends.length, 1, 'not before its time');
  clock.advance(1);
  await until(() => ends.length === 2, 'second attempt');
  job = (await jobs.get(id))!;
  assert.equal(job.runAt - clock.now(), 1_000, 'then 0.5 × 2,000 ms');
  clock.advance(1_000);
  await until(() => ends.length === 3, 'third attempt');
  assert.deepEqual(
    ends.map((e) => e.outcome),
    ['retry', 'retry', 'dead'],
  );
  job = (await jobs.get(id))!;
  assert.equal(job.state, 'dead');
  assert.deepEqual(
    (await jobs.dead(queue)).map((j) => j.id),
    [id],
  );

  fail = false;
  assert.equal(await jobs.redrive(queue, { id }), 1);
  worker.wake();
  await until(async () => (await stateOf(jobs, id)) === 'done', 'redriven and done');
  job = (await jobs.get(id))!;
  assert.equal(job.attempts, 1, 'attempts start again');
  assert.deepEqual(job.result, { ok: true });
  assert.equal((await jobs.dead(queue)).length, 0);
  await jobs.stop();
});

test('retryDelay replaces the backoff; an error asking for a wait (retryAfterMs) gets at least it, capped', async () => {
  const clock = new FakeClock({ now: 30_000_000 });
  const jobs = createJobs({ db: pool, clock });
  const queue = fresh('schedule');
  const asked = [undefined, 120_000, 10 * 3_600_000];
  let attempt = 0;
  const ends: JobEndEvent[] = [];
  const worker = jobs.work(
    queue,
    async () => {
      const wait = asked[attempt++];
      throw Object.assign(new Error('503'), wait === undefined ? {} : { retryAfterMs: wait });
    },
    { pollInterval: 1_000_000, retryDelay: (n) => [0, 5_000, 300_000][n - 1] ?? 0, maxRetryAfter: 3_600_000 },
  );
  worker.onEnd((e) => ends.push(e));
  const { id } = await jobs.enqueue(undefined, queue, {}, { maxAttempts: 4 });
  const waitAfter = async (n: number) => {
    await until(() => ends.length === n, `attempt ${n}`);
    return (await jobs.get(id))!.runAt - clock.now();
  };
  worker.wake();
  // The schedule says "at once" after the first failure: the second attempt runs without the clock moving.
  assert.equal(await waitAfter(2), 120_000, 'then Retry-After (120 s) over the schedule (5 s)');
  clock.advance(120_000);
  worker.wake();
  assert.equal(await waitAfter(3), 3_600_000, 'a 10 h Retry-After capped at maxRetryAfter');
  await jobs.stop();
});

test('progress and a message are readable by id while the job runs; the result when it is done', async () => {
  const jobs = createJobs({ db: pool });
  const queue = fresh('progress');
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => (finish = resolve));
  jobs.work(queue, async (job) => {
    await job.progress(42.4, 'page 3 of 7');
    await gate;
    return { rows: 7 };
  });
  const { id } = await jobs.enqueue(undefined, queue, {});
  await until(async () => (await jobs.get(id))?.progress === 42, 'progress written');
  const running = (await jobs.get(id))!;
  assert.equal(running.state, 'running');
  assert.equal(running.message, 'page 3 of 7');
  finish();
  await until(async () => (await stateOf(jobs, id)) === 'done', 'done');
  const done = (await jobs.get(id))!;
  assert.equal(done.progress, 100);
  assert.deepEqual(done.result, { rows: 7 });
  assert.equal(await jobs.get(id, { tenant: 'someone-else' }), undefined, 'scoped by tenant');
  assert.equal(await jobs.get('not-an-id'), undefined);
  await jobs.stop();
});

test("fairness: a tenant's single job waits behind at most one job per slot of a tenant with 10,000 queued", async () => {
  const jobs = createJobs({ db: pool, listen });
  const queue = fresh('fair');
  const slots = 4;
  // Tenant A's backlog, in one statement.
  await pool.query(
    `INSERT INTO headroom.jobs (queue, tenant, payload, run_at, created_at)
     SELECT $1, 'a', to_jsonb(n), 0, 0 FROM generate_series(1, 10000) n`,
    [queue],
  );
  const started: string[] = [];
  let bEnqueued = -1;
  const worker = jobs.work(
    queue,
    async (job) => {
      started.push(job.tenant);
      await new Promise((resolve) => setTimeout(resolve, 5));
    },
    { concurrency: slots },
  );
  await until(() => started.length >= 50, 'A is running');
  bEnqueued = started.length;
  await jobs.enqueue(undefined, queue, {}, { tenant: 'b' });
  await until(() => started.includes('b'), "B's job started");
  const aStartedMeanwhile = started.indexOf('b') - bEnqueued;
  assert.ok(aStartedMeanwhile <= slots, `${aStartedMeanwhile} of A's jobs started before B's`);
  await worker.stop(0);
  await pool.query(`DELETE FROM headroom.jobs WHERE queue = $1`, [queue]);
  await jobs.stop();
});

test('tenantLimit: no more of a tenant at once than its limit, whatever the worker could take', async () => {
  const jobs = createJobs({ db: pool });
  const queue = fresh('limit');
  let running = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  jobs.work(
    queue,
    async () => {
      peak = Math.max(peak, ++running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running--;
    },
    { concurrency: 4, pollInterval: 10 },
  );
  const ids: string[] = [];
  for (let i = 0; i < 3; i++)
    ids.push((await jobs.enqueue(undefined, queue, {}, { tenant: 'free', tenantLimit: 1 })).id);
  const other = await jobs.enqueue(undefined, queue, {}, { tenant: 'pro', tenantLimit: 2 });
  await until(() => gates.length === 2, 'one of each tenant running');
  for (let round = 0; round < 3; round++) {
    gates.shift()!();
    await until(async () => gates.length >= 1 && running === gates.length, 'next');
  }
  while (gates.length > 0) gates.shift()!();
  await until(async () => {
    const states = await Promise.all([...ids, other.id].map((id) => stateOf(jobs, id)));
    if (gates.length > 0) gates.shift()!();
    return states.every((s) => s === 'done');
  }, 'all done');
  assert.equal(peak, 2, 'one free-tier job and one pro job at a time, never two of the free tier');
  await jobs.stop();
});

test('the kill switch: a paused queue takes nothing; resume wakes its workers', async () => {
  const jobs = createJobs({ db: pool, listen });
  const queue = fresh('pause');
  await jobs.pause(queue);
  assert.equal(await jobs.paused(queue), true);
  await assert.rejects(
    jobs.assertRunning(queue),
    (e: unknown) => isHeadroomError(e) && e.code === 'HR_JOB_QUEUE_PAUSED' && e.status === 503,
  );
  const ran: string[] = [];
  const worker = jobs.work(queue, async (job) => ran.push(job.id), { pollInterval: 10 });
  const { id } = await jobs.enqueue(undefined, queue, {});
  for (let i = 0; i < 20; i++) worker.wake();
  await new Promise((resolve) => setTimeout(resolve, 100)); // several polls' worth: none may take it
  assert.deepEqual(ran, []);
  const [paused] = (await jobs.counts()).filter((c) => c.queue === queue);
  assert.equal(paused?.paused, true);
  assert.equal(paused?.ready, 1);
  await jobs.resume(queue);
  await until(() => ran.length === 1, 'resumed');
  assert.deepEqual(ran, [id]);
  await jobs.stop();
});

test('cancel: a ready job never runs; a running one sees its signal abort with HR_JOB_CANCELLED', async () => {
  const jobs = createJobs({ db: pool, listen });
  const queue = fresh('cancel');
  const reasons: unknown[] = [];
  const ran: string[] = [];
  jobs.work(
    queue,
    (job, signal) =>
      new Promise((_resolve, reject) => {
        ran.push(job.id);
        signal.addEventListener('abort', () => {
          reasons.push(signal.reason);
          reject(signal.reason);
        });
      }),
    { pollInterval: 60_000, lease: 60_000 },
  );
  const running = await jobs.enqueue(undefined, queue, {}, { tenant: 't' });
  await until(async () => (await stateOf(jobs, running.id)) === 'running', 'running');
  const later = await jobs.enqueue(undefined, queue, {}, { tenant: 't', runAt: Date.now() + 3_600_000 });
  assert.equal(
    await jobs.cancel(later.id, { tenant: 'other' }),
    false,
    "another tenant's cancel finds nothing",
  );
  assert.equal(await jobs.cancel(later.id, { tenant: 't' }), true);
  assert.equal(await jobs.cancel(running.id), true);
  await until(
    () => reasons.length === 1,
    'the handler saw the abort (NOTIFY, not the heartbeat a minute away)',
  );
  assert.ok(isHeadroomError(reasons[0]) && reasons[0].code === 'HR_JOB_CANCELLED');
  assert.equal(await stateOf(jobs, running.id), 'cancelled');
  assert.equal(await stateOf(jobs, later.id), 'cancelled');
  assert.deepEqual(ran, [running.id]);
  assert.equal(await jobs.cancel(running.id), false, 'already finished');
  await jobs.stop();
});

test('a job past its time limit is aborted with HR_JOB_TIMEOUT and retried; its slot is free at once', async () => {
  const clock = new FakeClock({ now: 5_000_000 });
  const jobs = createJobs({ db: pool, clock, random: () => 1 });
  const queue = fresh('timeout');
  const reasons: unknown[] = [];
  const ends: JobEndEvent[] = [];
  const worker = jobs.work(
    queue,
    (_job, signal) => new Promise(() => signal.addEventListener('abort', () => reasons.push(signal.reason))),
    { timeout: 60_000, pollInterval: 1_000_000 },
  );
  worker.onEnd((e) => ends.push(e));
  const { id } = await jobs.enqueue(undefined, queue, {}, { timeout: 250, maxAttempts: 2 });
  worker.wake();
  await until(() => worker.running === 1, 'running');
  clock.advance(249);
  assert.equal(reasons.length, 0);
  clock.advance(1);
  assert.equal(reasons.length, 1);
  assert.ok(isHeadroomError(reasons[0]) && reasons[0].code === 'HR_JOB_TIMEOUT');
  assert.equal(worker.running, 0, 'the slot is free although the handler never settles');
  await until(() => ends.length === 1, 'recorded');
  assert.equal(ends[0]?.reason, 'timeout');
  const job = (await jobs.get(id))!;
  assert.equal(job.state, 'ready');
  assert.equal(job.reason, 'timeout');
  assert.match(job.lastError!, /HR_JOB_TIMEOUT/);
  await worker.stop(0);
  await jobs.stop();
});

test('graceful stop: a job that finishes in time is done, one that does not is given back, attempt uncounted', async () => {
  const clock = new FakeClock({ now: 9_000_000 });
  const jobs = createJobs({ db: pool, clock });
  const queue = fresh('stop');
  const gates = new Map<unknown, () => void>();
  const aborted: unknown[] = [];
  const worker = jobs.work(
    queue,
    (job, signal) =>
      new Promise<void>((resolve, reject) => {
        gates.set((job.payload as { n: number }).n, resolve);
        signal.addEventListener('abort', () => {
          aborted.push(signal.reason);
          reject(signal.reason);
        });
      }),
    { concurrency: 2, pollInterval: 1_000_000 },
  );
  const quick = await jobs.enqueue(undefined, queue, { n: 1 });
  const slow = await jobs.enqueue(undefined, queue, { n: 2 });
  worker.wake();
  await until(() => gates.size === 2, 'both running');
  const stopping = worker.stop(5_000);
  const waiting = await jobs.enqueue(undefined, queue, { n: 3 });
  worker.wake();
  gates.get(1)!();
  await until(async () => (await stateOf(jobs, quick.id)) === 'done', 'the quick one finished');
  clock.advance(5_000);
  await stopping;
  assert.equal(aborted.length, 1);
  assert.ok(isHeadroomError(aborted[0]) && aborted[0].code === 'HR_JOB_RELEASED');
  const released = (await jobs.get(slow.id))!;
  assert.equal(released.state, 'ready');
  assert.equal(released.attempts, 0, 'a release is not a failed attempt');
  assert.equal(await stateOf(jobs, waiting.id), 'ready', 'a stopping worker takes no new job');

  const next = createJobs({ db: pool, clock });
  const ran: unknown[] = [];
  next.work(queue, async (job) => ran.push(job.payload)).wake();
  await until(() => ran.length === 2, 'another worker ran both');
  await next.stop();
  await jobs.stop();
});

test('a job that runs longer than its lease keeps it: renewed every third, never reaped while its worker lives', async () => {
  const clock = new FakeClock({ now: 12_000_000 });
  const jobs = createJobs({ db: pool, clock });
  const queue = fresh('lease');
  let finish!: () => void;
  const errors: unknown[] = [];
  const worker = jobs.work(queue, () => new Promise<void>((resolve) => (finish = resolve)), {
    lease: 300,
    pollInterval: 1_000_000,
  });
  worker.onError((e) => errors.push(e.error));
  const { id } = await jobs.enqueue(undefined, queue, {});
  worker.wake();
  await until(() => worker.running === 1, 'running');
  const leaseOf = async () =>
    Number(
      (await pool.query('SELECT lease_until FROM headroom.jobs WHERE id = $1', [id])).rows[0].lease_until,
    );
  const first = await leaseOf();
  for (let step = 0; step < 20; step++) {
    clock.advance(50); // 1 s in all, three leases: heartbeats every 100 ms, reaps every 150 ms
    await until(async () => (await leaseOf()) > clock.now() || errors.length > 0, 'lease ahead of now');
  }
  assert.deepEqual(errors, []);
  assert.ok((await leaseOf()) > first, 'renewed');
  const job = (await jobs.get(id))!;
  assert.equal(job.state, 'running');
  assert.equal(job.attempts, 1, 'never reaped and re-run');
  finish();
  await until(async () => (await stateOf(jobs, id)) === 'done', 'done');
  await jobs.stop();
});

test('stop() with a fetch in flight leaves no job running: what the fetch took runs to the end or goes back', async () => {
  const jobs = createJobs({ db: pool });
  const queue = fresh('stop-race');
  for (let i = 0; i < 40; i++) await jobs.enqueue(undefined, queue, { i });
  for (let round = 0; round < 10; round++) {
    const worker = jobs.work(queue, async () => {}, { concurrency: 4, pollInterval: 1_000_000 });
    worker.wake();
    await worker.stop(5_000);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM headroom.jobs WHERE queue = $1 AND state = 'running'`,
      [queue],
    );
    assert.equal(rows[0].n, 0, `round ${round}: a job left running after stop()`);
  }
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n FROM headroom.jobs WHERE queue = $1 AND state IN ('ready', 'done')`,
    [queue],
  );
  assert.equal(rows[0].n, 40, 'every job is done or waiting, none lost');
  await jobs.stop();
});

test('a worker killed with SIGKILL mid-job: its job runs again once the lease lapses', async () => {
  const queue = fresh('sigkill');
  const jobs = createJobs({ db: pool, name: 'survivor' });
  const { id } = await jobs.enqueue(undefined, queue, { n: 1 });
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'fixtures', 'job-worker.ts'), url, queue],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await until(async () => (await jobs.get(id))?.state === 'running', 'the child took the job', 6_000);
    assert.equal(
      (await pool.query('SELECT worker FROM headroom.jobs WHERE id = $1', [id])).rows[0].worker,
      'doomed',
    );
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  } finally {
    child.kill('SIGKILL');
  }
  const ends: JobEndEvent[] = [];
  jobs
    .work(queue, async () => ({ second: true }), { lease: 600, pollInterval: 50 })
    .onEnd((e) => ends.push(e));
  await until(async () => (await stateOf(jobs, id)) === 'done', 'reaped and run again', 6_000);
  const job = (await jobs.get(id))!;
  assert.equal(job.attempts, 2, 'the killed attempt counts');
  assert.deepEqual(job.result, { second: true });
  await jobs.stop();
});

test('counts: ready, scheduled, running and dead by queue, and how long the oldest ready job has waited', async () => {
  const clock = new FakeClock({ now: 20_000_000 });
  const jobs = createJobs({ db: pool, clock });
  const queue = fresh('counts');
  await jobs.enqueue(undefined, queue, {});
  clock.advance(1_500);
  await jobs.enqueue(undefined, queue, {});
  await jobs.enqueue(undefined, queue, {}, { runAt: clock.now() + 60_000 });
  const [row] = (await jobs.counts()).filter((c) => c.queue === queue);
  assert.deepEqual(row, {
    queue,
    paused: false,
    ready: 2,
    scheduled: 1,
    running: 0,
    dead: 0,
    oldestReadyMs: 1_500,
  });
  const idle = fresh('idle');
  jobs.work(idle, async () => {}, { pollInterval: 1_000_000 });
  const [empty] = (await jobs.counts()).filter((c) => c.queue === idle);
  assert.deepEqual(
    empty,
    { queue: idle, paused: false, ready: 0, scheduled: 0, running: 0, dead: 0, oldestReadyMs: 0 },
    'a queue worked on here is listed though empty',
  );
  await pool.query(`DELETE FROM headroom.jobs WHERE queue = $1`, [queue]);
  await jobs.stop();
});

test('LISTEN survives a lost connection: it reconnects and NOTIFY wakes workers again', async () => {
  const jobs = createJobs({ db: pool, listen });
  const queue = fresh('relisten');
  const ran: string[] = [];
  jobs.work(queue, async (job) => ran.push(job.id), { pollInterval: 60_000 });
  const listening = async () => {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'`,
      [database],
    );
    return rows[0].n > 0;
  };
  await until(listening, 'listening');
  await pool.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE $2',
    [database, 'LISTEN%'],
  );
  await until(async () => !(await listening()), 'the LISTEN connection is gone');
  await until(listening, 'listening again');
  const { id } = await jobs.enqueue(undefined, queue, {});
  await until(() => ran.includes(id), 'woken by NOTIFY on the new connection');
  await jobs.stop();
});

test('bad options and names throw HR_INVALID_OPTION naming them', async () => {
  const jobs = createJobs({ db: pool });
  for (const [run, option] of [
    [() => createJobs({ db: {} as pg.Pool }), 'db'],
    [() => createJobs({ db: pool, schema: 'x; drop' }), 'schema'],
    [() => jobs.work('q', async () => {}, { concurrency: 0 }), 'concurrency'],
    [() => jobs.work('bad queue name', async () => {}), 'queue'],
  ] as const) {
    assert.throws(
      run,
      (e: unknown) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION' && e.context.option === option,
    );
  }
  await assert.rejects(jobs.enqueue(undefined, 'q', {}, { maxAttempts: 0 }), /maxAttempts/);
  await jobs.stop();
});

test('a batch fetch spreads over the groups: each pick takes the group with the fewest running, under its limit', async () => {
  const jobs = createJobs({ db: pool });
  const queue = fresh('groups');
  for (let g = 1; g <= 10; g++) {
    for (let i = 0; i < 5; i++)
      await jobs.enqueue(undefined, queue, { g }, { tenant: 't', group: `g${g}`, groupLimit: 4 });
  }
  const { rows } = await pool.query(
    `SELECT grp, count(*)::int AS n FROM headroom.fetch_jobs($1, $2, 60000, 'w', 10) GROUP BY grp`,
    [queue, Date.now() + 1_000],
  );
  assert.equal(
    rows.length,
    10,
    `one job of each of the ten groups, not four groups filled: ${JSON.stringify(rows)}`,
  );
  assert.ok(rows.every((r) => r.n === 1));
});
