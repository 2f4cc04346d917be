import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { Http1Pool } from './http1-pool.ts';
import type { Exchange } from './transport.ts';

interface Answer {
  status?: number;
  body?: string;
  error?: Error;
  sentMs: number;
  doneMs: number;
}

let server: Server;
let origin = '';
const sockets = new Set<Socket>();
/** Called when a request to /never arrives (it gets no answer). */
let onNever = () => {};
const routes: Record<string, (req: IncomingMessage, res: ServerResponse, body: string) => void> = {
  '/hello': (_req, res) => res.end('hello'),
  '/chunked': (_req, res) => {
    res.write('one,');
    setImmediate(() => {
      res.write('two,');
      setTimeout(() => res.end('three'), 5);
    });
  },
  '/echo': (req, res, body) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        method: req.method,
        body,
        host: req.headers.host,
        length: req.headers['content-length'],
      }),
    );
  },
  '/close': (_req, res) => {
    res.setHeader('connection', 'close');
    res.end('bye');
  },
  '/cut': (_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
    setImmediate(() => res.socket?.destroy());
  },
  '/empty': (_req, res) => {
    res.statusCode = 204;
    res.end();
  },
  '/never': () => onNever(),
};

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => routes[req.url ?? '']?.(req, res, body));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  origin = `http://127.0.0.1:${address.port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

function pool(options: { connections?: number; timeoutMs?: number; now?: () => number } = {}) {
  return new Http1Pool(origin, {
    connections: options.connections ?? 4,
    timeoutMs: options.timeoutMs ?? 5_000,
    now: options.now ?? (() => performance.now()),
  });
}

function send(
  target: Http1Pool,
  path: string,
  init: { method?: string; body?: string; keepBody?: boolean } = {},
) {
  return new Promise<Answer>((resolve) => {
    const exchange: Exchange = {
      request: target.prepare({ method: init.method ?? 'GET', path, headers: {}, body: init.body }),
      keepBody: init.keepBody ?? true,
      onResponse: (status, body, sentMs, doneMs) =>
        resolve({ status, body: body?.toString('utf8'), sentMs, doneMs }),
      onError: (error, sentMs, doneMs) => resolve({ error, sentMs, doneMs }),
    };
    target.send(exchange);
  });
}

test('answers come back whole, and one kept-alive socket carries request after request', async () => {
  const p = pool({ connections: 1 });
  try {
    const before = sockets.size;
    const answers = await Promise.all([
      send(p, '/hello'),
      send(p, '/chunked'),
      send(p, '/hello'),
      send(p, '/empty'),
    ]);
    assert.deepEqual(
      answers.map((a) => [a.status, a.body]),
      [
        [200, 'hello'],
        [200, 'one,two,three'],
        [200, 'hello'],
        [204, ''],
      ],
    );
    assert.equal(sockets.size - before, 1, 'one connection for all four');
    for (const a of answers) assert.ok(a.doneMs >= a.sentMs);
    // The chunked answer took ≥ 5 ms from its send, though the next exchange went out on its socket at once.
    assert.ok(
      answers[1]!.doneMs - answers[1]!.sentMs >= 4,
      'raw latency of a request with one queued behind',
    );
    // Queued behind the others: sent only when the socket was free.
    assert.ok(answers[3]!.sentMs >= answers[2]!.doneMs);
  } finally {
    await p.close();
  }
});

test('warm connections are open before the first request and carry it', async () => {
  const p = pool({ connections: 3 });
  const opened = new Set<number>();
  const onConnection = (socket: Socket) => opened.add(socket.remotePort!);
  server.on('connection', onConnection);
  try {
    await p.warm(5); // no more than the pool's size
    while (opened.size < 3) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(opened.size, 3);
    const answers = await Promise.all([send(p, '/hello'), send(p, '/hello'), send(p, '/hello')]);
    assert.deepEqual(
      answers.map((a) => a.body),
      ['hello', 'hello', 'hello'],
    );
    assert.equal(opened.size, 3, 'no new connection');
  } finally {
    server.off('connection', onConnection);
    await p.close();
  }
});

test('a JSON body is sent with its length in bytes; the host header names the target', async () => {
  const p = pool();
  try {
    const answer = await send(p, '/echo', { method: 'POST', body: '{"q":"café"}' });
    assert.deepEqual(JSON.parse(answer.body!), {
      method: 'POST',
      body: '{"q":"café"}',
      host: origin.slice('http://'.length),
      length: '13',
    });
    const unread = await send(p, '/echo', { method: 'PUT', keepBody: false });
    assert.equal(unread.status, 200);
    assert.equal(unread.body, undefined);
  } finally {
    await p.close();
  }
});

test('a connection the server closes is replaced for the next request', async () => {
  const p = pool({ connections: 1 });
  try {
    const answers = await Promise.all([
      send(p, '/close'),
      send(p, '/hello'),
      send(p, '/close'),
      send(p, '/hello'),
    ]);
    assert.deepEqual(
      answers.map((a) => a.body),
      ['bye', 'hello', 'bye', 'hello'],
    );
  } finally {
    await p.close();
  }
});

test('a socket cut mid-answer fails that exchange only', async () => {
  const p = pool({ connections: 1 });
  try {
    const [cut, next] = await Promise.all([send(p, '/cut'), send(p, '/hello')]);
    assert.equal(cut.status, undefined);
    assert.match(cut.error!.message, /closed|reset|ECONNRESET/);
    assert.equal(next.body, 'hello');
  } finally {
    await p.close();
  }
});

test('an answer that does not come in time fails with a timeout and frees the socket', async () => {
  let clock = 0;
  const p = pool({ connections: 1, timeoutMs: 50, now: () => clock });
  try {
    const arrived = new Promise<void>((resolve) => {
      onNever = resolve;
    });
    const stuck = send(p, '/never');
    const next = send(p, '/hello');
    await arrived;
    clock = 1_000; // the sweep (every 5 ms here) finds the deadline passed
    const answer = await stuck;
    assert.equal(answer.error?.name, 'TimeoutError');
    assert.equal((await next).body, 'hello');
  } finally {
    await p.close();
  }
});

test('a connection idle past the server keep-alive hint is not reused', async () => {
  let clock = 0;
  const p = pool({ connections: 1, now: () => clock });
  const opened = new Set<number>();
  const onConnection = (socket: Socket) => opened.add(socket.remotePort!);
  server.on('connection', onConnection);
  try {
    await send(p, '/hello'); // Node's server says Keep-Alive: timeout=5
    clock = 3_000;
    await send(p, '/hello');
    assert.equal(opened.size, 1, 'reused within 4 s');
    clock = 9_000;
    await send(p, '/hello');
    assert.equal(opened.size, 2, 'a fresh socket after 6 s idle');
  } finally {
    server.off('connection', onConnection);
    await p.close();
  }
});

test('a refused connection and a closed pool fail their exchanges', async () => {
  const refuser = createNetServer();
  refuser.listen(0, '127.0.0.1');
  await once(refuser, 'listening');
  const { port } = refuser.address() as { port: number };
  refuser.close();
  await once(refuser, 'close');
  const p = new Http1Pool(`http://127.0.0.1:${port}`, { connections: 2, timeoutMs: 1_000, now: () => 0 });
  const answers = await Promise.all([send(p, '/'), send(p, '/'), send(p, '/')]);
  for (const a of answers) assert.match(a.error!.message, /ECONNREFUSED/);
  await p.close();
  assert.match((await send(p, '/')).error!.message, /closed/);
});

/** A raw TCP server answering each connection's first request with `reply`. */
async function rawServer(reply: (socket: Socket) => void): Promise<{ url: string; close: () => void }> {
  const raw: NetServer = createNetServer((socket) => socket.once('data', () => reply(socket)));
  raw.listen(0, '127.0.0.1');
  await once(raw, 'listening');
  const { port } = raw.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => raw.close() };
}

test('a body with no length runs to the close of the connection', async () => {
  const raw = await rawServer((socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nstreamed ');
    setImmediate(() => socket.end('until the end'));
  });
  const p = new Http1Pool(raw.url, { connections: 1, timeoutMs: 1_000, now: () => 0 });
  try {
    assert.equal((await send(p, '/')).body, 'streamed until the end');
    assert.equal((await send(p, '/')).body, 'streamed until the end', 'on a new connection');
  } finally {
    await p.close();
    raw.close();
  }
});

test('a malformed answer is a protocol error', async () => {
  const raw = await rawServer((socket) => socket.write('HTTP/1.1 OK\r\n\r\n'));
  const p = new Http1Pool(raw.url, { connections: 1, timeoutMs: 1_000, now: () => 0 });
  try {
    const answer = await send(p, '/');
    assert.equal(answer.error?.name, 'ProtocolError');
  } finally {
    await p.close();
    raw.close();
  }
});

test('requests that would break framing are refused before they are sent', () => {
  const p = pool();
  try {
    assert.throws(() => p.prepare({ method: 'GET', path: '/a b', headers: {} }), /invalid request path/);
    assert.throws(
      () => p.prepare({ method: 'GET', path: '/', headers: { x: 'a\r\nb: c' } }),
      /invalid value/,
    );
    assert.throws(
      () => p.prepare({ method: 'GET', path: '/', headers: { 'transfer-encoding': 'chunked' } }),
      /set by the client/,
    );
    assert.equal(
      p.prepare({ method: 'GET', path: '/', headers: { host: 'example.test' } }).bytes!.toString('latin1'),
      'GET / HTTP/1.1\r\nconnection: keep-alive\r\nhost: example.test\r\n\r\n',
    );
  } finally {
    void p.close();
  }
});
