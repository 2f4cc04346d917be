// Graceful shutdown of casebook as real processes: under steady load, SIGTERM turns readiness 503 before the
// listener closes and no request sent before the listener closed fails; `npm start` passes the signal on (no
// orphan left listening); a second signal, or the deadline, exits 1 at once.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { until } from '@headroom/dev-servers/until';
import { testOperatorToken } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';
import { startServerProcess } from './support/server-process.ts';

interface Outcome {
  sentAt: number;
  status?: number;
  error?: string;
}

/** One GET; resolves with its status or the socket error's code, never rejects. */
function get(url: string, agent: Agent | false, headers: Record<string, string> = {}): Promise<Outcome> {
  const sentAt = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ sentAt, status: res.statusCode! }));
      res.on('error', (error: NodeJS.ErrnoException) =>
        resolve({ sentAt, error: error.code ?? error.message }),
      );
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ sentAt, error: error.code ?? error.message }),
    );
    req.end();
  });
}

async function login(origin: string): Promise<string> {
  const res = await fetch(`${origin}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'analyst@acme.test', password: 'headroom-demo' }),
  });
  return ((await res.json()) as { token: string }).token;
}

// The load balancer here is the load loop itself: it routes no new request to the instance once a readiness
// probe (every 20 ms, like a tight Kubernetes readiness probe) says 503, as an endpoint removal would. What
// reaches a closing listener regardless (a connection in its accept backlog) is reset by the kernel, whatever the
// process does: `delay` exists so that no such request is sent.
test('SIGTERM under steady load: readiness 503 first, then the listener closes; no request sent before it closed fails; exit 0', async () => {
  const db = await createTestDatabase();
  const server = await startServerProcess({
    DATABASE_URL: db.url,
    SEED_PROFILE: 'test',
    SHUTDOWN_DELAY_MS: '1500',
    QUOTA_SCALE: '100',
  });
  try {
    const token = await login(server.url);
    const search = `${server.url}/v1/cases/search?q=fraud`;
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await get(search, false, auth)).status, 200, 'warm the cache');
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const load: Promise<Outcome>[] = [];
    const probes: { at: number; status?: number; error?: string }[] = [];
    let stop = false;
    let routed = true; // the balancer's view of the instance
    // Open model, 200 requests/s on kept-alive connections, at most 15 s, while the balancer routes here.
    const loader = (async () => {
      const start = performance.now();
      for (let i = 0; i < 3_000 && !stop && routed; i++) {
        const due = start + i * 5;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        load.push(get(search, agent, auth));
      }
    })();
    // Readiness on fresh connections every 20 ms.
    const prober = (async () => {
      for (let i = 0; i < 750 && !stop; i++) {
        const outcome = await get(`${server.url}/health/ready`, false);
        probes.push({ at: outcome.sentAt, ...outcome });
        if (outcome.status !== 200) routed = false;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const signalledAt = performance.now();
    server.child.kill('SIGTERM');
    const [code] = await once(server.child, 'exit');
    await new Promise((resolve) => setTimeout(resolve, 200));
    stop = true;
    await Promise.all([loader, prober]);
    const outcomes = await Promise.all(load);
    agent.destroy();

    assert.equal(code, 0, server.output());
    const notReady = probes.find((p) => p.at >= signalledAt && p.status === 503);
    const refused = probes.find((p) => p.error === 'ECONNREFUSED');
    assert.ok(notReady, 'readiness answered 503 during the shutdown');
    assert.ok(refused, 'the listener closed');
    assert.ok(notReady.at < refused.at, 'readiness turned 503 before the listener closed');
    // Every request sent while the listener was open (the balancer stops routing once readiness says 503) must
    // have succeeded.
    const sent = outcomes.filter((o) => o.sentAt < refused.at);
    const failed = sent.filter((o) => o.status !== 200);
    assert.ok(sent.length > 150, `steady load reached the server (${sent.length} requests)`);
    assert.deepEqual(
      failed,
      [],
      `${failed.length} of ${sent.length} requests sent before the listener closed failed`,
    );
    assert.ok(
      sent.some((o) => o.sentAt > signalledAt),
      'requests kept coming after SIGTERM until the balancer heard readiness',
    );
  } finally {
    await server.stop();
    await db.close();
  }
});

test('npm start: SIGTERM to npm reaches casebook, which stops; nothing is left listening', async () => {
  const db = await createTestDatabase();
  const root = join(import.meta.dirname, '..', '..', '..');
  const npm = spawn('npm', ['start'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      SEED_PROFILE: 'test',
      PORT: '0',
      LOG_LEVEL: 'warn',
      OPERATOR_TOKEN: testOperatorToken,
      SHUTDOWN_DELAY_MS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  npm.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  try {
    await until(() => /casebook is ready at (http:\/\/\S+)/.test(output), {
      timeout: 60_000,
      what: 'the ready banner',
    });
    const origin = /casebook is ready at (http:\/\/\S+)/.exec(output)![1]!;
    assert.equal((await get(`${origin}/health/live`, false)).status, 200);
    npm.kill('SIGTERM');
    const [code] = await once(npm, 'exit');
    assert.equal(code, 0, output);
    await until(async () => (await get(`${origin}/health/live`, false)).error === 'ECONNREFUSED', {
      what: 'casebook to stop listening',
    });
  } finally {
    if (npm.exitCode === null) npm.kill('SIGKILL');
    await db.close();
  }
});

test('a second SIGTERM exits 1 at once; so does the deadline', async () => {
  const db = await createTestDatabase();
  try {
    const twice = await startServerProcess({
      DATABASE_URL: db.url,
      SEED_PROFILE: 'test',
      SHUTDOWN_DELAY_MS: '60000',
    });
    twice.child.kill('SIGTERM');
    await until(async () => (await get(`${twice.url}/health/ready`, false)).status === 503, {
      what: 'readiness 503',
    });
    twice.child.kill('SIGTERM');
    const [second] = await once(twice.child, 'exit');
    assert.equal(second, 1, 'not after the 60 s delay');

    const late = await startServerProcess({
      DATABASE_URL: db.url,
      SHUTDOWN_DELAY_MS: '60000',
      SHUTDOWN_DEADLINE_MS: '500',
    });
    late.child.kill('SIGTERM');
    const [deadline] = await once(late.child, 'exit');
    assert.equal(deadline, 1);
    assert.match(late.output(), /deadline/);
  } finally {
    await db.close();
  }
});
