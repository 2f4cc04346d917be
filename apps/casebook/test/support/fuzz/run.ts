// The fuzz suite's one runner: a casebook app to attack, the checks every answer must pass, and a property per
// route. The CI test (`test/fuzz.test.ts`) and the long run (`npm run fuzz`) both drive it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '@headroom/core/clock';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { startTestApp, type TestApp, testOperatorToken } from '../app.ts';
import { type FuzzRequest, type FuzzRoute, requestArbitrary } from './routes.ts';

/** Every `HR_*` code in docs/errors.md: an error answer must carry one of them. */
export const documentedCodes: ReadonlySet<string> = new Set(
  readFileSync(join(import.meta.dirname, '..', '..', '..', '..', '..', 'docs', 'errors.md'), 'utf8')
    .split('\n')
    .flatMap((line) => /^\| `(HR_[A-Z0-9_]+)`/.exec(line)?.[1] ?? []),
);

/** How long an answer may take before the request counts as held. */
export const answerBoundMs = 5_000;

/** Connection timeouts of the app under attack: short, so raw-socket cases end quickly. */
export const fuzzConnection = { headersTimeoutMs: 1_000, requestTimeoutMs: 1_500, checkIntervalMs: 100 };

/** A casebook under attack, with the credentials the requests use. */
export interface FuzzTarget {
  t: TestApp;
  /** Bearer tokens: the operator, an admin and analysts of three tenants, junk; `undefined` sends none. */
  tokens: (string | undefined)[];
  /** A token that only logout uses (logging out revokes it; later calls are 401s). */
  logoutToken: string;
}

/**
 * Starts casebook on its own database (real clock, so the suggestions timeouts fire; short connection
 * timeouts), logs in, and puts real cursors into `cursors` (the array {@link fuzzRoutes} was given).
 *
 * @example
 * const cursors: string[] = [];
 * const routes = fuzzRoutes(cursors);
 * const target = await startFuzzTarget(cursors);
 */
export async function startFuzzTarget(cursors: string[]): Promise<FuzzTarget> {
  const t = await startTestApp({ deps: { clock: systemClock(), connection: fuzzConnection } });
  const tokens = [
    await t.login('admin@acme.test'),
    await t.login('analyst@globex.test'),
    await t.login('analyst@initech.test'),
    'hrs_not-a-real-token',
    undefined,
    testOperatorToken,
  ];
  const acme = tokens[0]!;
  const first = (await t.as(acme, { url: '/v1/cases/search?limit=2' })).json();
  if (first.page.next_cursor) cursors.push(first.page.next_cursor);
  const id = first.data[0]?.id as number;
  for (const list of ['timeline', 'comments']) {
    const page = (await t.as(acme, { url: `/v1/cases/${id}/${list}?limit=1` })).json();
    if (page.page.next_cursor) cursors.push(page.page.next_cursor);
  }
  return { t, tokens, logoutToken: await t.login('analyst@acme.test') };
}

const countsQuery = `SELECT (SELECT count(*) FROM cases) AS cases, (SELECT sum(version) FROM cases) AS versions,
  (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM comments) AS comments,
  (SELECT count(*) FROM entities) AS entities, (SELECT count(*) FROM case_entities) AS links,
  (SELECT count(*) FROM api_keys) AS keys, (SELECT count(*) FILTER (WHERE revoked_at IS NOT NULL) FROM api_keys) AS revoked_keys,
  (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FILTER (WHERE revoked_at IS NOT NULL) FROM sessions) AS revoked`;

async function counts(t: TestApp): Promise<Record<string, string>> {
  return (await t.db.pool.query(countsQuery)).rows[0] as Record<string, string>;
}

/**
 * The checks every answer passes: never a 5xx, every error a problem+json with a documented code (and the
 * field named for HR_VALIDATION).
 */
export function checkAnswer(request: FuzzRequest, res: LightMyRequestResponse): void {
  const where = `${request.method} ${request.url} ${JSON.stringify(request.headers)} ${request.payload ?? ''}`;
  assert.ok(res.statusCode < 500, `${where} → ${res.statusCode} ${res.body}`);
  if (res.statusCode < 400) return;
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', where);
  const body = res.json() as { code?: string; field?: string };
  assert.ok(body.code && documentedCodes.has(body.code), `${where} → undocumented code ${body.code}`);
  if (body.code === 'HR_VALIDATION') assert.ok(body.field, `${where} → HR_VALIDATION without a field`);
}

/** Sends one request; rejects when no answer comes within {@link answerBoundMs}. */
async function send(t: TestApp, request: FuzzRequest, token: string | undefined) {
  let timer: NodeJS.Timeout | undefined;
  const held = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer in ${answerBoundMs} ms: ${request.url}`)),
      answerBoundMs,
    );
  });
  const headers = { ...request.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  try {
    return await Promise.race([
      t.app.inject({ method: request.method as 'GET', url: request.url, headers, payload: request.payload }),
      held,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The property of one route: any request, any caller; every answer checked, nothing written on a refusal. */
export function routeProperty(target: FuzzTarget, route: FuzzRoute) {
  const token =
    route.url === '/v1/auth/logout'
      ? fc.constantFrom(target.logoutToken, undefined, 'hrs_junk')
      : fc.constantFrom(...target.tokens);
  return fc.asyncProperty(requestArbitrary(route), token, async (request, bearer) => {
    const before = await counts(target.t);
    const res = await send(target.t, request, bearer);
    checkAnswer(request, res);
    if (res.statusCode >= 400) {
      assert.deepEqual(await counts(target.t), before, `${request.method} ${request.url} refused but wrote`);
    }
  });
}

/** Runs one route's property; returns fast-check's verdict (seed and counterexample on failure). */
export function fuzzRoute(target: FuzzTarget, route: FuzzRoute, options: { runs: number; seed: number }) {
  return fc.check(routeProperty(target, route), { numRuns: options.runs, seed: options.seed });
}
