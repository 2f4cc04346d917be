// The named raw-socket cases of the fuzz suite: requests no HTTP client would send (half bodies, bad framing,
// broken request lines, oversized headers, pipelining), each with the answer it must get.

import assert from 'node:assert/strict';
import type { RawAnswer } from '@headroom/dev-servers/raw-http';
import { checkEveryAnswer } from './raw.ts';

/** One request no HTTP client would send. `token` is a valid bearer token, for cases that must pass auth. */
export interface RawCase {
  name: string;
  bytes: (token: string) => string;
  /** The status it must get; undefined = any answer that passes the common checks, or none at all. */
  status?: number;
  code?: string;
  /** More checks of the answer. */
  check?: (answer: RawAnswer) => void;
}

const json = 'content-type: application/json\r\n';
const auth = (token: string) => `authorization: Bearer ${token}\r\n`;
const post = (token: string) => `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${auth(token)}${json}`;
const bad = { status: 400, code: 'HR_BAD_REQUEST' };

/** The named cases. */
export const rawCases: RawCase[] = [
  {
    name: 'a body shorter than its Content-Length → 408, connection closed',
    bytes: (token) => `${post(token)}content-length: 100\r\n\r\n{"title":`,
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
    name: 'a request line that never ends → 408',
    bytes: () => 'GET /v1/cases/sea',
    status: 408,
    code: 'HR_REQUEST_TIMEOUT',
  },
  {
    name: 'a chunked body whose last chunk never comes → 408',
    bytes: (token) => `${post(token)}transfer-encoding: chunked\r\n\r\n2\r\n{}\r\n`,
    status: 408,
    code: 'HR_REQUEST_TIMEOUT',
  },
  {
    name: 'a chunk size that is not hex → 400',
    bytes: (token) => `${post(token)}transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    ...bad,
  },
  {
    name: 'a chunk longer than its size → 400',
    bytes: (token) => `${post(token)}transfer-encoding: chunked\r\n\r\n2\r\n{"title":"x"}\r\n0\r\n\r\n`,
    ...bad,
  },
  {
    name: 'a chunk size past 2^64 → 400',
    bytes: (token) => `${post(token)}transfer-encoding: chunked\r\n\r\n${'f'.repeat(20)}\r\n{}\r\n0\r\n\r\n`,
    ...bad,
  },
  {
    name: 'Content-Length and Transfer-Encoding together (request smuggling) → 400',
    bytes: (token) => `${post(token)}content-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
    ...bad,
  },
  {
    name: 'Transfer-Encoding that does not end in chunked → 400',
    bytes: (token) => `${post(token)}transfer-encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
    ...bad,
  },
  {
    name: 'two different Content-Lengths → 400',
    bytes: () =>
      `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${json}content-length: 2\r\ncontent-length: 3\r\n\r\n{}`,
    ...bad,
  },
  {
    name: 'a negative Content-Length → 400',
    bytes: (token) => `${post(token)}content-length: -1\r\n\r\n{}`,
    ...bad,
  },
  {
    name: 'a Content-Length that is not a number → 400',
    bytes: (token) => `${post(token)}content-length: 1e3\r\n\r\n{}`,
    ...bad,
  },
  {
    name: 'a Content-Length past the body limit → 413 before the body is read',
    bytes: (token) => `${post(token)}content-length: 99999999999\r\nconnection: close\r\n\r\n{}`,
    status: 413,
    code: 'HR_BODY_TOO_LARGE',
  },
  { name: 'a request line that is not one → 400', bytes: () => 'HELLO\r\n\r\n', ...bad },
  { name: 'an unknown HTTP version → 400', bytes: () => 'GET /v1/me HTTP/9.9\r\nhost: x\r\n\r\n', ...bad },
  {
    name: 'a space inside the path → 400',
    bytes: () => 'GET /v1/cases/ 1 HTTP/1.1\r\nhost: x\r\n\r\n',
    ...bad,
  },
  {
    name: 'control characters and bytes above 0x7f in the path → 400',
    bytes: () => 'GET /v1/cases/\x01\xff HTTP/1.1\r\nhost: x\r\n\r\n',
    ...bad,
  },
  {
    name: 'NUL in a header value → 400',
    bytes: () => 'GET /v1/me HTTP/1.1\r\nhost: x\r\nx-tenant-id: 1\x002\r\n\r\n',
    ...bad,
  },
  {
    name: 'a space in a header name → 400',
    bytes: () => 'GET /v1/me HTTP/1.1\r\nhost: x\r\nx bad: 1\r\n\r\n',
    ...bad,
  },
  {
    name: 'a folded header line (obs-fold) → 400',
    bytes: () => 'GET /v1/me HTTP/1.1\r\nhost: x\r\nx-a: 1\r\n  continued\r\n\r\n',
    ...bad,
  },
  {
    name: 'bytes above 0x7f in a header value: answered, never a 5xx',
    bytes: (token) =>
      `GET /v1/me HTTP/1.1\r\nhost: x\r\n${auth(token)}x-tenant-id: \xe9\xff\r\nconnection: close\r\n\r\n`,
  },
  {
    name: 'HTTP/1.1 without Host → 400 problem',
    bytes: () => 'GET /v1/me HTTP/1.1\r\nconnection: close\r\n\r\n',
    ...bad,
  },
  {
    name: 'an Expect the server does not meet: answered with a problem, never a 5xx',
    bytes: (token) =>
      `GET /v1/me HTTP/1.1\r\nhost: x\r\n${auth(token)}expect: 200-ok\r\nconnection: close\r\n\r\n`,
  },
  {
    name: 'absolute-form and asterisk-form targets, CONNECT: answered with a problem or closed',
    bytes: () =>
      'GET http://x/v1/me HTTP/1.1\r\nhost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nhost: x\r\n\r\nCONNECT x:443 HTTP/1.1\r\nhost: x:443\r\n\r\n',
    check: (answer) => checkEveryAnswer(answer),
  },
  {
    name: 'a gzip Content-Encoding on a JSON body: a problem, never a 5xx',
    bytes: (token) =>
      `${post(token)}content-encoding: gzip\r\ncontent-length: 4\r\nconnection: close\r\n\r\n\x1f\x8b\x08\x00`,
  },
  {
    name: 'a malformed request pipelined after a good one: the good one answered, then a 400 problem',
    bytes: () => 'GET /health/live HTTP/1.1\r\nhost: x\r\n\r\nGET /\x00 HTTP/1.1\r\n\r\n',
    status: 200,
    check: (answer) => {
      const answers = checkEveryAnswer(answer);
      assert.equal(answers.length, 2, `two answers: ${JSON.stringify(answer)}`);
      assert.equal(answers[1], 400, `then a 400: ${JSON.stringify(answer)}`);
    },
  },
  {
    name: 'an idle kept-alive connection is closed after the keep-alive timeout',
    bytes: () => 'GET /health/live HTTP/1.1\r\nhost: x\r\n\r\n',
    status: 200,
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
    ...bad,
  },
  {
    name: 'a known path with another method → 405 with Allow',
    bytes: (token) => `PUT /v1/cases/1 HTTP/1.1\r\nhost: x\r\n${auth(token)}connection: close\r\n\r\n`,
    status: 405,
    code: 'HR_METHOD_NOT_ALLOWED',
    check: (answer) => {
      const allow = (answer.headers.allow ?? '').split(/\s*,\s*/);
      for (const method of ['GET', 'PATCH'])
        assert.ok(allow.includes(method), `Allow: ${answer.headers.allow}`);
      assert.ok(!allow.includes('PUT'), `Allow: ${answer.headers.allow}`);
    },
  },
  {
    name: 'text/plain to a JSON route → 415',
    bytes: (token) =>
      `POST /v1/cases HTTP/1.1\r\nhost: x\r\n${auth(token)}content-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\ntitle=x`,
    status: 415,
    code: 'HR_UNSUPPORTED_MEDIA_TYPE',
  },
];
