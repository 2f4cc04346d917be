// Raw-socket cases of the fuzz suite: half bodies, bad framing, broken request lines, oversized headers, and
// random bytes on the wire. Every answer must come (or the connection close) within the timeouts, and be a
// problem+json with a documented code.

import assert from 'node:assert/strict';
import { type RawAnswer, rawRequest } from '@headroom/dev-servers/raw-http';
import fc from 'fast-check';
import { answerBoundMs, documentedCodes, fuzzConnection } from './run.ts';

/** One request no HTTP client would send. `token` is a valid bearer token, for cases that must pass auth. */
export interface RawCase {
  name: string;
  bytes: (token: string) => string;
  /** The status it must get; undefined = any answer that passes the common checks, or none at all. */
  status?: number;
  code?: string;
}

const json = 'content-type: application/json\r\n';
const auth = (token: string) => `authorization: Bearer ${token}\r\n`;

/** The named cases. */
export const rawCases: RawCase[] = [
  {
    name: 'a body shorter than its Content-Length → 408, connection closed',
    bytes: (token) =>
      `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${auth(token)}${json}content-length: 100\r\n\r\n{"title":`,
    status: 408,
    code: 'HR_REQUEST_TIMEOUT',
  },
  {
    name: 'headers that never end → 408',
    bytes: () => 'GET /v1/cases/search HTTP/1.1\r\nhost: x\r\nx-slow: yes',
    status: 408,
    code: 'HR_REQUEST_TIMEOUT',
  },
  {
    name: 'a chunk size that is not hex → 400',
    bytes: (token) =>
      `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${auth(token)}${json}transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    status: 400,
    code: 'HR_BAD_REQUEST',
  },
  {
    name: 'a chunk longer than its size → 400',
    bytes: (token) =>
      `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${auth(token)}${json}transfer-encoding: chunked\r\n\r\n2\r\n{"title":"x"}\r\n0\r\n\r\n`,
    status: 400,
    code: 'HR_BAD_REQUEST',
  },
  {
    name: 'Content-Length and Transfer-Encoding together (request smuggling) → 400',
    bytes: (token) =>
      `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${auth(token)}${json}content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'HR_BAD_REQUEST',
  },
  {
    name: 'two different Content-Lengths → 400',
    bytes: () =>
      `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${json}content-length: 2\r\ncontent-length: 3\r\n\r\n{}`,
    status: 400,
    code: 'HR_BAD_REQUEST',
  },
  {
    name: 'a request line that is not one → 400',
    bytes: () => 'HELLO\r\n\r\n',
    status: 400,
    code: 'HR_BAD_REQUEST',
  },
  {
    name: 'a space inside the path → 400',
    bytes: () => 'GET /v1/cases/ 1 HTTP/1.1\r\nhost: x\r\n\r\n',
    status: 400,
    code: 'HR_BAD_REQUEST',
  },
  {
    name: 'control characters and bytes above 0x7f in the path → 400',
    bytes: () => 'GET /v1/cases/\x01\xff HTTP/1.1\r\nhost: x\r\n\r\n',
    status: 400,
    code: 'HR_BAD_REQUEST',
  },
  {
    name: 'a 20 KB header → 431',
    bytes: () => `GET /v1/me HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
    code: 'HR_HEADERS_TOO_LARGE',
  },
  {
    name: 'a bad percent-encoding in the path → 400 problem',
    bytes: () => 'GET /v1/cases/%FF HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    status: 400,
    code: 'HR_BAD_REQUEST',
  },
  {
    name: 'a known path with another method → 405 with Allow',
    bytes: (token) => `PUT /v1/cases/1 HTTP/1.1\r\nhost: x\r\n${auth(token)}connection: close\r\n\r\n`,
    status: 405,
    code: 'HR_METHOD_NOT_ALLOWED',
  },
  {
    name: 'text/plain to a JSON route → 415',
    bytes: (token) =>
      `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${auth(token)}content-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\ntitle=x`,
    status: 415,
    code: 'HR_UNSUPPORTED_MEDIA_TYPE',
  },
];

/** The most a connection may stay open: the request timeout, the check interval, and slack for a busy machine. */
const closeBoundMs = fuzzConnection.requestTimeoutMs + fuzzConnection.checkIntervalMs + answerBoundMs;

/** The checks of any raw answer: it came in time, it is no 5xx, an error is a documented problem. */
export function checkRawAnswer(answer: RawAnswer, what: string): void {
  if (answer.status === undefined) return; // closed without an answer: allowed, it was not held
  assert.ok(answer.status < 500, `${what} → ${answer.status} ${answer.body}`);
  if (answer.status < 400) return;
  assert.equal(answer.headers['content-type'], 'application/problem+json; charset=utf-8', what);
  const body = JSON.parse(
    answer.body.slice(0, Number(answer.headers['content-length'] ?? answer.body.length)),
  );
  assert.ok(documentedCodes.has(body.code), `${what} → undocumented code ${body.code}`);
}

/** Sends one named case and checks its answer. */
export async function runRawCase(port: number, rawCase: RawCase, token: string): Promise<RawAnswer> {
  const answer = await rawRequest(port, rawCase.bytes(token), closeBoundMs);
  checkRawAnswer(answer, rawCase.name);
  if (rawCase.status !== undefined) assert.equal(answer.status, rawCase.status, JSON.stringify(answer));
  if (rawCase.code !== undefined) assert.equal(JSON.parse(answer.body).code, rawCase.code);
  return answer;
}

const wireByte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));

/** Random request heads: a method, a path and headers made of any bytes, sometimes a body that lies. */
export const randomWire = fc
  .tuple(
    fc.oneof(
      fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT'),
      fc.string({ unit: wireByte, maxLength: 8 }),
    ),
    fc.oneof(
      fc.constantFrom('/v1/cases/search', '/v1/cases/1', '/v1/auth/login', '/health', '*'),
      fc.string({ unit: wireByte, maxLength: 40 }),
    ),
    fc.array(
      fc.tuple(fc.string({ unit: wireByte, maxLength: 12 }), fc.string({ unit: wireByte, maxLength: 40 })),
      {
        maxLength: 4,
      },
    ),
    fc.option(fc.tuple(fc.nat({ max: 200 }), fc.string({ unit: wireByte, maxLength: 60 }))),
  )
  .map(([method, path, headers, body]) => {
    const lines = [`${method} ${path} HTTP/1.1`, 'host: x', ...headers.map(([n, v]) => `${n}: ${v}`)];
    if (body) lines.push(`content-length: ${body[0]}`);
    return `${lines.join('\r\n')}\r\nconnection: close\r\n\r\n${body ? body[1] : ''}`;
  });
