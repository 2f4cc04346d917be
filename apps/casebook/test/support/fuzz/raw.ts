// The raw-socket side of the fuzz suite: sends the named cases (raw-cases.ts) and random bytes on the wire.
// Every answer must come (or the connection close) within the timeouts, and be a problem+json with a
// documented code; a refusal writes nothing.

import assert from 'node:assert/strict';
import { type RawAnswer, rawRequest } from '@headroom/dev-servers/raw-http';
import fc from 'fast-check';
import { checkProblem } from './problems.ts';
import type { RawCase } from './raw-cases.ts';
import { answerBoundMs, counts } from './run.ts';
import { type FuzzTarget, fuzzConnection } from './target.ts';

/** The most a connection may stay open: the request timeout, the check interval, and slack for a busy machine. */
const closeBoundMs = fuzzConnection.requestTimeout + fuzzConnection.checkInterval + answerBoundMs;

/** The checks of any raw answer: it came in time (rawRequest rejects otherwise), no 5xx, errors are problems. */
export function checkRawAnswer(answer: RawAnswer, what: string): void {
  if (answer.status === undefined) return; // closed without an answer: allowed, it was not held
  assert.ok(answer.status < 500, `${what} → ${answer.status} ${answer.body.slice(0, 500)}`);
  if (answer.status < 400) return;
  checkProblem(answer.status, answer.headers, firstBody(answer), what);
}

// The body of the first answer: a pipelined second one may follow it.
function firstBody(answer: RawAnswer): string {
  const length = answer.headers['content-length'];
  return length ? answer.body.slice(0, Number(length)) : answer.body;
}

/**
 * Checks every answer of a connection that carried several (pipelined) requests, as {@link checkRawAnswer}
 * does the first; returns their statuses.
 */
export function checkEveryAnswer(answer: RawAnswer): number[] {
  const statuses: number[] = [];
  let rest = `HTTP/1.1 ${answer.status} x\r\n${Object.entries(answer.headers)
    .map(([n, v]) => `${n}: ${v}\r\n`)
    .join('')}\r\n${answer.body}`;
  while (rest.startsWith('HTTP/')) {
    const end = rest.indexOf('\r\n\r\n');
    const head = rest.slice(0, end === -1 ? rest.length : end);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
    const headers = Object.fromEntries(
      head
        .split('\r\n')
        .slice(1)
        .map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
    );
    const length = Number(headers['content-length'] ?? 0);
    const body = end === -1 ? '' : rest.slice(end + 4, end + 4 + length);
    checkRawAnswer(
      { status, headers, body, closedAfterMs: answer.closedAfterMs },
      `answer ${statuses.length + 1}`,
    );
    statuses.push(status);
    rest = end === -1 ? '' : rest.slice(end + 4 + length);
  }
  return statuses;
}

/** Sends one named case and checks its answer; a refusal (or no answer) must have written nothing. */
export async function runRawCase(target: FuzzTarget, port: number, rawCase: RawCase): Promise<RawAnswer> {
  const before = await counts(target.t);
  const answer = await rawRequest(port, rawCase.bytes(target.adminToken), closeBoundMs);
  const seen = `${rawCase.name}: ${answer.status} ${JSON.stringify(answer.headers)} ${answer.body.slice(0, 300)}`;
  checkRawAnswer(answer, rawCase.name);
  if (rawCase.status !== undefined) assert.equal(answer.status, rawCase.status, seen);
  if (rawCase.code !== undefined) assert.equal(JSON.parse(firstBody(answer)).code, rawCase.code, seen);
  rawCase.check?.(answer);
  if (answer.status === undefined || answer.status >= 400) {
    assert.deepEqual(await counts(target.t), before, `${seen}: refused, but wrote`);
  }
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
      { maxLength: 4 },
    ),
    fc.option(fc.tuple(fc.nat({ max: 200 }), fc.string({ unit: wireByte, maxLength: 60 }))),
  )
  .map(([method, path, headers, body]) => {
    const lines = [`${method} ${path} HTTP/1.1`, 'host: x', ...headers.map(([n, v]) => `${n}: ${v}`)];
    if (body) lines.push(`content-length: ${body[0]}`);
    return `${lines.join('\r\n')}\r\nconnection: close\r\n\r\n${body ? body[1] : ''}`;
  });

/**
 * Sends random wire bytes `runs` times; each answer must come in time and pass {@link checkRawAnswer}.
 *
 * @example
 * const details = await fuzzWire(port, { runs: 75, seed: 42 });
 */
export function fuzzWire(port: number, options: { runs: number; seed: number }) {
  return fc.check(
    fc.asyncProperty(randomWire, async (bytes) => {
      checkRawAnswer(await rawRequest(port, bytes, closeBoundMs), JSON.stringify(bytes));
    }),
    { numRuns: options.runs, seed: options.seed },
  );
}
