// app.headroom.jobs on a real PostgreSQL: the queue metrics (checked by promtool), a jobs:<queue> check in
// /health that warns while paused or backed up, and the admin queue routes, operators for the kill switch,
// tenant admins confined to their own tenant's dead jobs.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { createJobs, type Jobs, jobsSchemaSql } from '@headroom/core/jobs';
import Fastify from 'fastify';
import pg from 'pg';
import { headroom } from '../src/index.ts';

const admin = new pg.Pool({ connectionString: process.env.HEADROOM_TEST_PG_URL, max: 1 });
const database = `fjobs_${process.pid}_${Date.now()}`;
let pool: pg.Pool;
before(async () => {
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(process.env.HEADROOM_TEST_PG_URL!);
  url.pathname = `/${database}`;
  pool = new pg.Pool({ connectionString: url.href, max: 4 });
  pool.on('error', () => {}); // DROP DATABASE … WITH (FORCE) in after() ends idle connections
  await pool.query(jobsSchemaSql());
});
after(async () => {
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

async function app(jobs: Jobs, warnAfter = 60_000) {
  const server = Fastify();
  await server.register(headroom, {
    clock: jobs.clock,
    service: 't',
    version: '1',
    defaultMetrics: false,
    admin: {
      authorize: (request) => {
        const who = String(request.headers['x-admin'] ?? '');
        return who === 'operator' ? { role: 'operator' } : { role: 'tenant', tenant: who };
      },
    },
  });
  server.headroom.jobs.add(jobs, { warnAfter });
  return server;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`gave up waiting: ${what}`);
}

test('metrics: jobs by queue and state, wait and run times, failures by reason', async () => {
  const clock = new FakeClock({ now: 1_000_000 });
  const jobs = createJobs({ db: pool, clock });
  const server = await app(jobs);
  const worker = jobs.work(
    'm',
    async (job) => {
      if ((job.payload as { fail: boolean }).fail) throw new Error('no');
    },
    { pollInterval: 1_000_000 },
  );
  await jobs.enqueue(undefined, 'm', { fail: false });
  const failing = await jobs.enqueue(undefined, 'm', { fail: true }, { maxAttempts: 1 });
  await jobs.enqueue(undefined, 'm', {}, { runAt: clock.now() + 60_000 });
  let ended = 0;
  jobs.onEnd(() => ended++);
  worker.wake();
  await until(async () => ended === 2, 'both attempts ended (events follow the write)');
  assert.equal((await jobs.get(failing.id))?.state, 'dead');
  clock.advance(2_000); // past the counts' one-second reuse
  const metrics = (await server.inject('/metrics')).body;
  assert.match(metrics, /headroom_jobs\{queue="m",state="dead"\} 1/);
  assert.match(metrics, /headroom_jobs\{queue="m",state="scheduled"\} 1/);
  assert.match(metrics, /headroom_jobs\{queue="m",state="ready"\} 0/);
  assert.match(metrics, /headroom_job_failures_total\{queue="m",reason="error"\} 1/);
  assert.match(metrics, /headroom_job_wait_seconds_count\{queue="m"\} 2/);
  assert.match(metrics, /headroom_job_run_seconds_count\{queue="m",outcome="done"\} 1/);
  assert.match(metrics, /headroom_job_run_seconds_count\{queue="m",outcome="dead"\} 1/);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  assert.equal(
    lint.error,
    undefined,
    'promtool (Debian package prometheus) is installed; .ci/run installs it',
  );
  assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'promtool finds nothing to say of the job metrics');
  assert.equal(lint.status, 0);
  await jobs.stop();
  await server.close();
  await pool.query(`DELETE FROM headroom.jobs WHERE queue = 'm'`);
});

test('health: each queue a jobs:<queue> check, warning while paused or while its oldest ready job waits too long', async () => {
  const clock = new FakeClock({ now: 2_000_000 });
  const jobs = createJobs({ db: pool, clock });
  const server = await app(jobs, 30_000);
  await jobs.enqueue(undefined, 'h', {});
  let health = (await server.inject('/health')).json();
  assert.equal(health.status, 'pass');
  assert.equal(health.checks['jobs:h'][0].status, 'pass');
  assert.match(
    health.checks['jobs:h'][0].output,
    /^1 ready, 0 scheduled, 0 running, 0 dead; oldest ready waited 0.0 s$/,
  );
  clock.advance(31_000);
  health = (await server.inject('/health')).json();
  assert.equal(health.status, 'warn');
  assert.match(health.checks['jobs:h'][0].output, /^backlog; 1 ready.*waited 31.0 s$/);
  assert.equal(
    (await server.inject('/health/ready')).statusCode,
    200,
    'a backlog does not take the instance out',
  );
  await jobs.pause('h');
  clock.advance(1_000);
  assert.match((await server.inject('/health')).json().checks['jobs:h'][0].output, /^paused; backlog; /);
  await jobs.stop();
  await server.close();
  await pool.query(`DELETE FROM headroom.jobs WHERE queue = 'h'`);
  await pool.query(`DELETE FROM headroom.queues WHERE queue = 'h'`);
});

test('health: a queue whose dead letters grew within deadWindow warns, until the window passes', async () => {
  const clock = new FakeClock({ now: 3_000_000 });
  const jobs = createJobs({ db: pool, clock });
  const server = await app(jobs);
  const worker = jobs.work(
    'dl',
    async () => {
      throw new Error('no');
    },
    { pollInterval: 1_000_000 },
  );
  let ended = 0;
  jobs.onEnd(() => ended++);
  const kill = async (n: number) => {
    for (let i = 0; i < n; i++) await jobs.enqueue(undefined, 'dl', {}, { maxAttempts: 1 });
    const target = ended + n;
    worker.wake();
    await until(async () => ended === target, 'the attempts ended');
    clock.advance(1_000); // past the counts' one-second reuse
  };
  await kill(1);
  let check = (await server.inject('/health')).json().checks['jobs:dl'][0];
  assert.equal(
    check.status,
    'pass',
    'the first count seen is the baseline: dead letters from before do not warn',
  );
  await kill(2);
  check = (await server.inject('/health')).json().checks['jobs:dl'][0];
  assert.equal(check.status, 'warn');
  assert.match(check.output, /^dead letters growing \(1 → 3\); /);
  clock.advance(15 * 60_000);
  check = (await server.inject('/health')).json().checks['jobs:dl'][0];
  assert.equal(check.status, 'pass', 'no growth for 15 minutes');
  await kill(1);
  assert.match((await server.inject('/health')).json().checks['jobs:dl'][0].output, /growing \(3 → 4\)/);
  await jobs.stop();
  await server.close();
  await pool.query(`DELETE FROM headroom.jobs WHERE queue = 'dl'`);
});

test('admin: operators see every queue and hold the kill switch; a tenant admin lists and redrives only their own dead jobs', async () => {
  const jobs = createJobs({ db: pool });
  const server = await app(jobs);
  const as = (who: string) => ({ 'x-admin': who });
  const worker = jobs.work(
    'a',
    async () => {
      throw new Error('broken');
    },
    { pollInterval: 1_000_000 },
  );
  const ids: Record<string, string> = {};
  for (const tenant of ['acme', 'acme', 'globex']) {
    ids[tenant] = (await jobs.enqueue(undefined, 'a', {}, { tenant, maxAttempts: 1 })).id;
  }
  worker.wake();
  await until(async () => (await jobs.dead('a')).length === 3, 'three dead');
  await worker.stop();

  assert.equal((await server.inject({ url: '/admin/queues', headers: as('acme') })).statusCode, 403);
  const listed = (await server.inject({ url: '/admin/queues', headers: as('operator') })).json();
  assert.equal(listed.data.find((q: { queue: string }) => q.queue === 'a').dead, 3);
  const pause = (who: string) =>
    server.inject({ method: 'POST', url: '/admin/queues/a/pause', headers: as(who) });
  assert.equal((await pause('acme')).statusCode, 403, 'the kill switch is for operators');
  assert.equal((await pause('operator')).json().paused, true);
  assert.equal(await jobs.paused('a'), true);
  const resumed = await server.inject({
    method: 'POST',
    url: '/admin/queues/a/resume',
    headers: as('operator'),
  });
  assert.equal(resumed.json().paused, false);

  const acmeDead = (await server.inject({ url: '/admin/queues/a/dead', headers: as('acme') })).json();
  assert.deepEqual(
    acmeDead.data.map((j: { tenant: string }) => j.tenant),
    ['acme', 'acme'],
  );
  const crossing = await server.inject({ url: '/admin/queues/a/dead?tenant=globex', headers: as('acme') });
  assert.equal(crossing.statusCode, 403);
  const sneaky = await server.inject({
    method: 'POST',
    url: '/admin/queues/a/redrive',
    headers: as('acme'),
    payload: { id: ids.globex },
  });
  assert.equal(sneaky.json().redriven, 0, "another tenant's job id redrives nothing");
  const own = await server.inject({
    method: 'POST',
    url: '/admin/queues/a/redrive',
    headers: as('acme'),
    payload: {},
  });
  assert.equal(own.json().redriven, 2);
  assert.deepEqual(
    (await jobs.dead('a')).map((j) => j.tenant),
    ['globex'],
  );
  const all = await server.inject({
    method: 'POST',
    url: '/admin/queues/a/redrive',
    headers: as('operator'),
  });
  assert.equal(all.json().redriven, 1);
  const bad = await server.inject({ url: '/admin/queues/a/dead?limit=0', headers: as('operator') });
  assert.equal(bad.statusCode, 400);
  await jobs.stop();
  await server.close();
});
