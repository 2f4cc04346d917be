// Webhook drills with real processes (issue 14): the receiver killed and started again while events keep
// coming, and casebook itself SIGKILLed in the middle of deliveries and restarted. Pass means every event is
// delivered at least once, every delivery verifies with the npm standardwebhooks package, and a message sent
// twice carries the same webhook-id both times.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '@headroom/dev-servers/ports';
import { until } from '@headroom/dev-servers/until';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { startTestApp } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';
import { startServerProcess } from './support/server-process.ts';

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

const receiverScript = join(import.meta.dirname, '..', 'scripts', 'webhook-receiver.ts');

/** The README's receiver as a child process on 127.0.0.2:`port`, printing each request whole. */
async function startReceiver(port: number, received: Received[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [receiverScript, '--raw', '--host', '127.0.0.2', '--port', String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let buffered = '';
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  child.stdout!.on('data', (chunk) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
      const line = JSON.parse(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
      if (line.listening) listening();
      else received.push(line as Received);
    }
  });
  await ready;
  return child;
}

/** Verifies at the message's own time: the app under test may sign with a fake clock. */
function verify(secret: string, r: Received): { type: string; data: { id: number } } {
  const wallClock = Date.now;
  Date.now = () => Number(r.headers['webhook-timestamp']) * 1000;
  try {
    return new Webhook(secret).verify(r.body, r.headers) as { type: string; data: { id: number } };
  } finally {
    Date.now = wallClock;
  }
}

test('drill: the receiver is killed and comes back; every event is delivered and verifies', async () => {
  const port = await freePort();
  const received: Received[] = [];
  let receiver = await startReceiver(port, received);
  const t = await startTestApp({
    listen: true,
    deps: {
      exportWorkers: 0,
      webhooks: {
        resolver: async () => [{ address: '127.0.0.2', family: 4 }],
        allowedHosts: [`receiver.test:${port}`],
        workers: 4,
      },
    },
  });
  try {
    const admin = await t.login('admin@acme.test');
    const analyst = await t.login('analyst@acme.test');
    const endpoint = (
      await t.as(admin, {
        method: 'POST',
        url: '/v1/webhooks',
        payload: { url: `http://receiver.test:${port}/drill`, events: ['case.created'] },
      })
    ).json() as { id: number; secret: string };
    const cases: number[] = [];
    const createCase = async (title: string) => {
      const res = await t.as(analyst, { method: 'POST', url: '/v1/cases', payload: { title } });
      assert.equal(res.statusCode, 201);
      cases.push(res.json().id);
    };
    for (let i = 0; i < 5; i++) await createCase(`before ${i}`);
    await until(() => received.length === 5, { what: 'the first five delivered' });

    receiver.kill('SIGKILL');
    await once(receiver, 'exit');
    for (let i = 0; i < 15; i++) await createCase(`while down ${i}`);
    // Each of the fifteen fails (connection refused) and waits for a retry, or for the endpoint's breaker.
    const pending = async () =>
      (
        await t.db.pool.query(
          `SELECT count(*) FILTER (WHERE d.state = 'pending' AND j.state = 'ready')::int AS waiting
           FROM headroom.webhook_deliveries d JOIN headroom.jobs j ON j.id = d.job_id WHERE d.endpoint_id = $1`,
          [endpoint.id],
        )
      ).rows[0].waiting as number;
    await until(async () => (await pending()) === 15, {
      timeout: 10_000,
      what: 'fifteen waiting to be retried',
    });

    receiver = await startReceiver(port, received);
    // The spec's schedule waits 5 s, then 5 min: move the clock a schedule step at a time, each time letting the
    // workers take everything that came due, until nothing is pending.
    const sender = t.app.headroom.webhooks.webhooks!;
    const busy = async () =>
      (
        await t.db.pool.query(
          `SELECT count(*)::int AS n FROM headroom.jobs
           WHERE queue LIKE 'webhook-%' AND (state = 'running' OR (state = 'ready' AND run_at <= $1))`,
          [t.clock.now()],
        )
      ).rows[0].n as number;
    const undelivered = async () =>
      (
        await t.db.pool.query(
          `SELECT count(*)::int AS n FROM headroom.webhook_deliveries WHERE endpoint_id = $1 AND state <> 'delivered'`,
          [endpoint.id],
        )
      ).rows[0].n as number;
    for (let step = 0; step < 20 && (await undelivered()) > 0; step++) {
      await t.clock.tick(6 * 60_000);
      for (const worker of sender.workers) worker.wake();
      await until(async () => (await busy()) === 0, {
        timeout: 10_000,
        what: 'the workers to take what came due',
      });
    }
    assert.equal(await undelivered(), 0, 'nothing left undelivered');
    const ids = new Map<number, string>();
    for (const r of received) {
      const event = verify(endpoint.secret, r);
      assert.equal(event.type, 'case.created');
      const seen = ids.get(event.data.id);
      if (seen) assert.equal(seen, r.headers['webhook-id'], 'a message keeps its webhook-id');
      ids.set(event.data.id, r.headers['webhook-id']!);
    }
    assert.deepEqual(
      [...ids.keys()].sort((a, b) => a - b),
      [...cases].sort((a, b) => a - b),
      'every event delivered at least once',
    );
    const { rows } = await t.db.pool.query(
      'SELECT state, count(*)::int AS n FROM headroom.webhook_deliveries WHERE endpoint_id = $1 GROUP BY state',
      [endpoint.id],
    );
    assert.deepEqual(rows, [{ state: 'delivered', n: 20 }]);
  } finally {
    receiver.kill('SIGKILL');
    await t.close();
  }
});

test('drill: casebook is SIGKILLed in the middle of deliveries and restarted; nothing is lost, a resent message keeps its webhook-id', async () => {
  const port = await freePort();
  const received: { headers: IncomingHttpHeaders; body: string; answered: boolean }[] = [];
  let hold = true;
  const held: ServerResponse[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const entry = { headers: req.headers, body, answered: !hold };
      received.push(entry);
      if (hold) held.push(res);
      else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.2', resolve));
  const db = await createTestDatabase();
  const env = {
    DATABASE_URL: db.url,
    SEED_PROFILE: 'test',
    WEBHOOK_ALLOWED_HOSTS: `127.0.0.2:${port}`,
    WEBHOOK_LEASE_MS: '2000',
  };
  let server = await startServerProcess(env);
  try {
    const login = async (email: string) => {
      const res = await fetch(`${server.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'headroom-demo' }),
      });
      return ((await res.json()) as { token: string }).token;
    };
    const admin = await login('admin@acme.test');
    const created = await fetch(`${server.url}/v1/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ url: `http://127.0.0.2:${port}/drill`, events: ['case.created'] }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const endpoint = (await created.json()) as { id: number; secret: string };
    const cases: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${server.url}/v1/cases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ title: `mid-delivery ${i}` }),
      });
      assert.equal(res.status, 201);
      cases.push(((await res.json()) as { id: number }).id);
    }
    // The endpoint's cap (4) of attempts reach the receiver and hang there: casebook is killed mid-delivery.
    await until(() => held.length === 4, { timeout: 10_000, what: 'four deliveries in flight' });
    server.child.kill('SIGKILL');
    await once(server.child, 'exit');
    hold = false;
    for (const res of held.splice(0)) res.destroy();

    server = await startServerProcess(env);
    const answeredIds = () =>
      new Set(received.filter((r) => r.answered).map((r) => String(r.headers['webhook-id'])));
    await until(() => answeredIds().size === 10, {
      timeout: 20_000,
      what: 'all ten delivered after the restart',
    });

    const byId = new Map<string, number[]>();
    for (const r of received) {
      const event = new Webhook(endpoint.secret).verify(r.body, r.headers as Record<string, string>) as {
        data: { id: number };
      };
      const id = String(r.headers['webhook-id']);
      byId.set(id, [...(byId.get(id) ?? []), event.data.id]);
    }
    for (const [id, caseIds] of byId) {
      assert.equal(new Set(caseIds).size, 1, `${id} always carries the same event`);
    }
    const delivered = new Set([...byId.values()].map((ids) => ids[0] as number));
    assert.deepEqual(
      [...delivered].sort((a, b) => a - b),
      [...cases].sort((a, b) => a - b),
      'nothing lost',
    );
    const resent = [...byId.values()].filter((ids) => ids.length > 1).length;
    assert.ok(resent >= 4, `the four cut short were sent again under their webhook-id (${resent})`);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const { rows } = await pool.query(
      'SELECT state, count(*)::int AS n FROM headroom.webhook_deliveries WHERE endpoint_id = $1 GROUP BY state',
      [endpoint.id],
    );
    await pool.end();
    assert.deepEqual(rows, [{ state: 'delivered', n: 10 }]);
  } finally {
    await server.stop();
    receiver.closeAllConnections();
    receiver.close();
    await db.close();
  }
});
