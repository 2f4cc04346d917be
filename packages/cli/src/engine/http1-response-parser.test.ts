import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtocolError, ResponseParser } from './http1-response-parser.ts';
import { ServerTimingPhases } from './server-timing.ts';

interface Seen {
  status: number;
  body: string | undefined;
  keepAlive: boolean;
}

function parserFor(keepBody = true, headRequest = false) {
  const seen: Seen[] = [];
  const parser = new ResponseParser({
    onResponse(status, body, keepAlive) {
      seen.push({ status, body: body?.toString('utf8'), keepAlive });
    },
  });
  parser.expect(keepBody, headRequest);
  return { parser, seen };
}

/** Feeds `text` cut at `cuts`, each piece through one big buffer with stale bytes around it (as a reused read buffer). */
function feed(parser: ResponseParser, text: string, cuts: number[]) {
  const bytes = Buffer.from(text, 'latin1');
  const bounds = [0, ...cuts, bytes.length];
  const reused = Buffer.alloc(bytes.length + 64, '\r\n\r\nHTTP/1.1 500 X\r\n\r\n');
  for (let i = 0; i < bounds.length - 1; i++) {
    const piece = bytes.subarray(bounds[i], bounds[i + 1]);
    reused.fill('\r\n\r\n0\r\n');
    piece.copy(reused, 0);
    parser.execute(reused, 0, piece.length);
  }
}

const responses: [string, string, Seen][] = [
  [
    'content-length',
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world',
    { status: 200, body: 'hello world', keepAlive: true },
  ],
  [
    'chunked with extensions and trailers',
    'HTTP/1.1 201 Created\r\ntransfer-encoding: gzip, chunked\r\n\r\n5;name=x\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n',
    { status: 201, body: 'hello world', keepAlive: true },
  ],
  [
    'an interim 100 Continue first',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nno',
    { status: 404, body: 'no', keepAlive: true },
  ],
  [
    'connection: close',
    'HTTP/1.1 200 OK\r\nConnection: Close\r\ncontent-length: 0\r\n\r\n',
    { status: 200, body: '', keepAlive: false },
  ],
  [
    'HTTP/1.0 with keep-alive',
    'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc',
    { status: 200, body: 'abc', keepAlive: true },
  ],
  [
    '204 without a length',
    'HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n',
    { status: 204, body: '', keepAlive: true },
  ],
];

for (const [name, text, expected] of responses) {
  test(`${name}: the same answer however the bytes are split`, () => {
    for (let cut = 0; cut <= text.length; cut++) {
      const { parser, seen } = parserFor();
      feed(parser, text, cut === 0 || cut === text.length ? [] : [cut]);
      assert.deepEqual(seen, [expected], `cut at ${cut}`);
      assert.ok(parser.idle);
    }
    const { parser, seen } = parserFor();
    feed(
      parser,
      text,
      Array.from({ length: text.length - 1 }, (_, i) => i + 1),
    );
    assert.deepEqual(seen, [expected], 'byte by byte');
  });
}

test('the body is read past, not kept, when not asked for', () => {
  const { parser, seen } = parserFor(false);
  feed(parser, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', [20, 40]);
  assert.deepEqual(seen, [{ status: 200, body: undefined, keepAlive: true }]);
});

test('an answer to HEAD has no body whatever its Content-Length says', () => {
  const { parser, seen } = parserFor(true, true);
  feed(parser, 'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n', []);
  assert.deepEqual(seen, [{ status: 200, body: '', keepAlive: true }]);
});

test('a body without a length runs to the close, and the connection is not reused', () => {
  const { parser, seen } = parserFor();
  feed(parser, 'HTTP/1.1 200 OK\r\n\r\npart one, ', []);
  feed(parser, 'part two', []);
  assert.deepEqual(seen, []);
  parser.finish();
  assert.deepEqual(seen, [{ status: 200, body: 'part one, part two', keepAlive: false }]);
});

test('the server hint of how long an idle connection lives is read', () => {
  const { parser } = parserFor();
  feed(parser, 'HTTP/1.1 200 OK\r\nKeep-Alive: max=100, timeout=72\r\nContent-Length: 0\r\n\r\n', []);
  assert.equal(parser.keepAliveHintMs, 72_000);
});

test('bytes after the answer mean the connection cannot be reused', () => {
  const { parser, seen } = parserFor();
  assert.throws(
    () => feed(parser, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n', []),
    ProtocolError,
  );
  assert.deepEqual(seen, [{ status: 200, body: 'ok', keepAlive: false }]);
});

test('malformed answers are protocol errors', () => {
  for (const text of [
    'SSH-2.0-OpenSSH\r\n\r\n',
    'HTTP/1.1 2x0 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n',
    'HTTP/1.1 101 Switching Protocols\r\n\r\n',
  ]) {
    const { parser } = parserFor();
    assert.throws(() => feed(parser, text, []), ProtocolError, text);
  }
});

test('data with no request in flight, or an answer cut short by the close, is an error', () => {
  const idle = new ResponseParser({ onResponse() {} });
  assert.throws(() => feed(idle, 'HTTP/1.1 200 OK\r\n\r\n', []), /no request in flight/);
  const { parser } = parserFor();
  feed(parser, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', []);
  assert.throws(() => parser.finish(), /closed the connection before the response ended/);
});

test('one parser reads answer after answer on a kept-alive connection', () => {
  const { parser, seen } = parserFor();
  feed(parser, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na', []);
  parser.expect(true, false);
  feed(parser, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n', [30]);
  parser.expect(false, false);
  feed(parser, 'HTTP/1.1 503 Busy\r\nContent-Length: 1\r\n\r\nc', []);
  assert.deepEqual(
    seen.map((s) => [s.status, s.body]),
    [
      [200, 'a'],
      [200, 'b'],
      [503, undefined],
    ],
  );
});

test('Server-Timing is read for the phases asked for, split anywhere, and only when asked', () => {
  const phases = new ServerTimingPhases(['auth', 'db', 'cache']);
  const text =
    'HTTP/1.1 200 OK\r\nServer-Timing: auth;dur=1.25, db;desc="q";dur=3.5\r\nserver-timing: db;dur=0.5, total;dur=9\r\nContent-Length: 2\r\n\r\nok';
  for (let cut = 1; cut < text.length; cut++) {
    const seen: (number[] | undefined)[] = [];
    const parser = new ResponseParser({
      onResponse(_status, _body, _keepAlive, timings) {
        seen.push(timings && [...timings.subarray(0, 3)]);
      },
    });
    parser.expect(false, false, phases);
    feed(parser, text, [cut]);
    // Two header lines add up (db 3.5 + 0.5); cache did not run; total is not a budgeted phase.
    assert.deepEqual(seen, [[1.25, 4, Number.NaN]], `cut at ${cut}`);
  }
  const seen: (Float64Array | undefined)[] = [];
  const parser = new ResponseParser({
    onResponse: (_status, _body, _keepAlive, timings) => seen.push(timings),
  });
  parser.expect(false, false); // no phases: the header is not read
  feed(parser, text, []);
  parser.expect(false, false, phases); // phases, but no header: nothing to report
  feed(parser, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', []);
  assert.deepEqual(seen, [undefined, undefined]);
});
