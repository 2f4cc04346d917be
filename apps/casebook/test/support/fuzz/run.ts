// The fuzz suite's one runner: the checks every answer must pass and a property per route. The CI test
// (`test/fuzz.test.ts`) and the long run (`npm run fuzz`) both drive it.

import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from '../app.ts';
import { nonSnakeMembers } from '../shape.ts';
import { checkProblem } from './problems.ts';
import { render, requestArbitrary, type SentRequest } from './request.ts';
import type { FuzzRoute, Issued } from './routes.ts';
import { callerArbitrary, type FuzzTarget } from './target.ts';

/** How long an answer may take before the request counts as held. */
export const answerBoundMs = 5_000;

// One statement, so the snapshots around every request stay cheap.
const countsQuery = `SELECT
  (SELECT count(*) FROM cases) AS cases, (SELECT sum(version) FROM cases) AS versions,
  (SELECT max(version) FROM cases) AS max_version, (SELECT max(updated_at) FROM cases) AS updated,
  (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM comments) AS comments,
  (SELECT count(*) FROM entities) AS entities, (SELECT count(*) FROM case_entities) AS links,
  (SELECT count(*) FROM api_keys) AS keys,
  (SELECT count(*) FILTER (WHERE revoked_at IS NOT NULL) FROM api_keys) AS revoked_keys,
  (SELECT count(*) FROM sessions) AS sessions,
  (SELECT count(*) FILTER (WHERE revoked_at IS NOT NULL) FROM sessions) AS revoked_sessions`;

/** Row counts and version sums of every table a request can write: equal before and after a refusal. */
export async function counts(t: TestApp): Promise<Record<string, unknown>> {
  return (await t.db.pool.query(countsQuery)).rows[0] as Record<string, unknown>;
}

function describe(request: SentRequest): string {
  const headers = { ...request.headers };
  if (headers.authorization) headers.authorization = headers.authorization.slice(0, 40);
  const payload = request.payload === undefined ? '' : ` ${JSON.stringify(request.payload.slice(0, 300))}`;
  return `${request.method} ${request.url.slice(0, 300)} ${JSON.stringify(headers)}${payload}`;
}

const decoders: Record<string, (bytes: Buffer) => Buffer> = { gzip: gunzipSync, br: brotliDecompressSync };

/**
 * The checks every answer passes: never a 5xx, every error a problem with a documented code; compressed
 * only when 2xx and asked for, under the coded tag; v1 success bodies snake_case (but the deprecated
 * `expiresAt`), lists with the envelope version, `stale` / `partial` booleans. Returns the body as the
 * client reads it (decoded).
 */
export function checkAnswer(request: SentRequest, res: LightMyRequestResponse, where: string): string {
  assert.ok(res.statusCode < 500, `${where} → ${res.statusCode} ${res.body.slice(0, 500)}`);
  const body = decodedBody(request, res, where);
  if (res.statusCode >= 400) {
    checkProblem(res.statusCode, res.headers, request.method === 'HEAD' ? undefined : body, where);
  } else if (
    body !== '' &&
    request.url.startsWith('/v1/') &&
    /^application\/json\b/.test(String(res.headers['content-type']))
  ) {
    // v1 only: the admin API of @headroom/fastify has its own (camelCase) shapes.
    checkShape(JSON.parse(body), where);
  }
  return body;
}

function decodedBody(request: SentRequest, res: LightMyRequestResponse, where: string): string {
  const coding = res.headers['content-encoding'];
  if (coding === undefined) return res.body;
  assert.ok(res.statusCode >= 200 && res.statusCode < 300, `${where} → ${res.statusCode} sent in ${coding}`);
  const decode = decoders[String(coding)];
  assert.ok(decode, `${where} → content-encoding ${coding}`);
  assert.ok(request.headers['accept-encoding'] !== undefined, `${where} → ${coding} nobody asked for`);
  assert.match(String(res.headers.vary), /accept-encoding/, `${where} → ${coding} without Vary`);
  const etag = res.headers.etag;
  if (typeof etag === 'string' && etag.startsWith('"')) {
    assert.ok(etag.endsWith(`-${coding}"`), `${where} → ${coding} body under the tag ${etag}`);
  }
  return request.method === 'HEAD' ? '' : decode(res.rawPayload).toString('utf8');
}

function checkShape(body: unknown, where: string): void {
  const names = nonSnakeMembers(body).filter((name) => name !== 'expiresAt');
  assert.deepEqual(names, [], `${where} → members not snake_case`);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const envelope = body as Record<string, unknown>;
  if (Array.isArray(envelope.data)) assert.equal(envelope.version, 1, `${where} → a list without version 1`);
  for (const flag of ['stale', 'partial']) {
    if (flag in envelope) assert.equal(typeof envelope[flag], 'boolean', `${where} → ${flag} not a boolean`);
  }
}

const tables: Partial<Record<string, string>> = { case: 'cases', entity: 'entities', key: 'api_keys' };

/**
 * Tenant isolation, on every answer that let a request through: the case, entity or key its URL names is
 * the caller's tenant's, and so is every case a search returns.
 */
async function checkTenancy(
  t: TestApp,
  route: FuzzRoute,
  request: SentRequest,
  res: LightMyRequestResponse,
  body: string,
  tenant: number,
  where: string,
): Promise<void> {
  const table = route.id && tables[route.id];
  const id = Number(request.id);
  if (table && request.id !== '' && request.method !== 'HEAD') {
    assert.ok(Number.isSafeInteger(id), `${where} → ${res.statusCode} for ${route.id} id ${request.id}`);
    const owner = await t.db.pool.query(`SELECT tenant_id FROM ${table} WHERE id = $1`, [id]);
    const found = owner.rows[0]?.tenant_id;
    assert.equal(found, tenant, `${where} → ${res.statusCode} for ${route.id} ${id} of tenant ${found}`);
  }
  // The path as the client resolved it (`/v1/cases/search/../1` is a case detail, not a search).
  const path = new URL(request.url, 'http://fuzz.invalid').pathname;
  if (path === '/v1/cases/search' && request.method === 'GET') {
    const ids = (JSON.parse(body).data as { id: number }[]).map((c) => c.id);
    const foreign = await t.db.pool.query('SELECT id FROM cases WHERE id = ANY($1) AND tenant_id <> $2', [
      ids,
      tenant,
    ]);
    assert.deepEqual(foreign.rows, [], `${where} → another tenant's cases`);
  }
}

/** Sends one request; rejects when no answer comes within {@link answerBoundMs}. */
async function send(t: TestApp, request: SentRequest, where: string) {
  let timer: NodeJS.Timeout | undefined;
  const held = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${answerBoundMs} ms: ${where}`)), answerBoundMs);
  });
  try {
    return await Promise.race([
      t.app.inject({
        method: request.method as 'GET',
        url: request.url,
        headers: request.headers,
        payload: request.payload,
      }),
      held,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** How one route fared: fast-check's report on failure, and how often each status came. */
export interface RouteVerdict {
  /** fast-check's report (seed, path, counterexample, error) when the property failed. */
  failure: string | undefined;
  /** Requests sent, shrinking included. */
  requests: number;
  /** Status → how many answers had it. */
  statuses: Map<number, number>;
}

/**
 * Runs one route's property: any request, any caller; every answer checked, and nothing written when the
 * answer is a refusal (>= 400).
 *
 * @example
 * const verdict = await fuzzRoute(target, issued, route, { runs: 150, seed: 42 });
 * if (verdict.failure) console.error(verdict.failure);
 */
export async function fuzzRoute(
  target: FuzzTarget,
  issued: Issued,
  route: FuzzRoute,
  options: { runs: number; seed: number },
): Promise<RouteVerdict> {
  const statuses = new Map<number, number>();
  let requests = 0;
  let last: Record<string, unknown> | undefined;
  const property = fc.asyncProperty(
    requestArbitrary(route, issued),
    callerArbitrary(target, route.url),
    async (drawn, caller) => {
      const request = await render(drawn, caller.resolve);
      if (caller.authorization !== undefined) request.headers.authorization = caller.authorization;
      const where = describe(request);
      // A refusal leaves the tables as they were, so its snapshot is the next request's "before".
      const before = last ?? (await counts(target.t));
      last = undefined;
      const res = await send(target.t, request, where);
      requests++;
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      const body = checkAnswer(request, res, where);
      if (res.statusCode < 300) await checkTenancy(target.t, route, request, res, body, caller.tenant, where);
      if (res.statusCode >= 400) {
        const after = await counts(target.t);
        last = after;
        assert.deepEqual(
          after,
          before,
          `${where} → ${res.statusCode} refused, but wrote: ${res.body.slice(0, 200)}`,
        );
      }
    },
  );
  const details = await fc.check(property, { numRuns: options.runs, seed: options.seed });
  return {
    failure: details.failed ? `${fc.defaultReportMessage(details)}\n${details.errorInstance}` : undefined,
    requests,
    statuses,
  };
}

/** `2xx 40, 4xx 110` style summary of a status tally. */
export function statusSummary(statuses: ReadonlyMap<number, number>): string {
  const classes = new Map<string, number>();
  for (const [status, n] of statuses) {
    const name = `${Math.floor(status / 100)}xx`;
    classes.set(name, (classes.get(name) ?? 0) + n);
  }
  return [...classes]
    .sort()
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
}
