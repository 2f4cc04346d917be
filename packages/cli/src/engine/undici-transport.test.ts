import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { ServerTimingPhases } from './server-timing.ts';
import { createTransport, exchange } from './transport.ts';
import { UndiciTransport } from './undici-transport.ts';

test('https: targets go through undici; http: through the lean pool', async () => {
  const secure = createTransport('https://example.test', { connections: 1, timeoutMs: 1_000, now: () => 0 });
  const plain = createTransport('http://example.test', { connections: 1, timeoutMs: 1_000, now: () => 0 });
  assert.ok(secure instanceof UndiciTransport);
  assert.ok(!(plain instanceof UndiciTransport));
  await Promise.all([secure.close(), plain.close()]);
});

test('undici exchanges report status, body when kept, send and done times, and failures', async () => {
  const server = createServer((req, res) => res.end(`${req.method} ${req.url}`));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const transport = new UndiciTransport(`http://127.0.0.1:${port}`, {
    connections: 2,
    timeoutMs: 1_000,
    now: () => performance.now(),
  });
  try {
    const request = transport.prepare({ method: 'GET', path: '/x', headers: {} });
    const kept = await exchange(transport, request, true);
    assert.equal(kept.status, 200);
    assert.equal(kept.body?.toString(), 'GET /x');
    assert.ok(kept.doneMs >= kept.sentMs);
    const skipped = await exchange(transport, request, false);
    assert.deepEqual([skipped.status, skipped.body], [200, undefined]);
  } finally {
    await transport.close();
    server.close();
  }
  const refused = new UndiciTransport(`http://127.0.0.1:${port}`, {
    connections: 1,
    timeoutMs: 1_000,
    now: () => 0,
  });
  const failed = await exchange(refused, refused.prepare({ method: 'GET', path: '/', headers: {} }), false);
  assert.match(failed.error?.message ?? '', /ECONNREFUSED/);
  await refused.close();
});

test('undici exchanges read the asked-for phases of Server-Timing, as the lean pool does', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/timed') res.setHeader('server-timing', 'auth;dur=1.5, db;dur=4, total;dur=6');
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const transport = new UndiciTransport(`http://127.0.0.1:${port}`, {
    connections: 1,
    timeoutMs: 1_000,
    now: () => performance.now(),
  });
  const phases = new ServerTimingPhases(['db', 'cache', 'auth']);
  try {
    const timed = transport.prepare({ method: 'GET', path: '/timed', headers: {} });
    assert.deepEqual(
      [...((await exchange(transport, timed, false, phases)).timings ?? [])],
      [4, Number.NaN, 1.5],
    );
    assert.equal((await exchange(transport, timed, false)).timings, undefined, 'not asked: not read');
    const plain = transport.prepare({ method: 'GET', path: '/plain', headers: {} });
    assert.equal((await exchange(transport, plain, false, phases)).timings, undefined, 'no header');
  } finally {
    await transport.close();
    server.close();
  }
});
