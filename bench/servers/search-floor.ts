// The floor of a cached search hit, for bench/cache-hit.ts: what casebook's `GET /v1/cases/search` must do on an
// L1 hit to be correct and safe, written straight on node:http with no framework, no metrics, no logs, no
// tracing and no door, sending BYTES_FILE as the page. No server that keeps the contract can cost less per
// request than about this, so bare Fastify ÷ this row bounds what the cache-hit ratio can reach.
//
// Per request, as casebook does it on a hit:
// - the route by path, the query string parsed and checked (q at most 200 characters, limit 1–100, status one of
//   the statuses, cursor at most 200 characters), a bad one a 400;
// - authentication: the bearer secret's form, its SHA-256 (secrets are looked up by digest, never kept), the
//   principal found in memory and its expiry checked;
// - the tenant's quota: a token bucket in memory, refilled by elapsed time, a refusal a 429;
// - the page found in memory under a key scoped by the principal's tenant;
// - If-None-Match compared with the page's tag (a 304), and the headers casebook sends: a request id, ETag,
//   Cache-Control, Vary, Content-Type, RateLimit and RateLimit-Policy.
//
// Any well-formed bearer secret is taken as a known principal on first sight, as the L1 principal cache holds it
// after the first load: the hit path is what is measured.
//
//   BYTES_FILE=page.json node bench/servers/search-floor.ts   → "listening on <url>"

import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';

interface Principal {
  tenantId: number;
  expiresAt: number;
}

const bytes = readFileSync(process.env.BYTES_FILE ?? '/dev/null');
const etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"`;
const statuses = new Set(['open', 'investigating', 'escalated', 'closed']);
const bearer = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const principals = new Map<string, Principal>();
const pages = new Map<string, Buffer>();
// casebook's enterprise tier scaled as the bench scales it (QUOTA_SCALE=1000): 30,000,000 a minute.
const quota = { capacity: 30_000_000, perMs: 30_000_000 / 60_000 };
const buckets = new Map<number, { tokens: number; at: number }>();
const policy = `"enterprise";q=${quota.capacity};w=60`;

function refuse(res: ServerResponse, status: number, code: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
  res.end(`{"status":${status},"code":"${code}"}`);
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  const mark = url.indexOf('?');
  if ((mark < 0 ? url : url.slice(0, mark)) !== '/v1/cases/search' || req.method !== 'GET') {
    refuse(res, 404, 'HR_NOT_FOUND');
    return;
  }
  const query = new URLSearchParams(mark < 0 ? '' : url.slice(mark + 1));
  const q = query.get('q') ?? '';
  const status = query.get('status') ?? '';
  const cursor = query.get('cursor') ?? '';
  const limit = Number(query.get('limit') ?? 20);
  if (
    q.length > 200 ||
    cursor.length > 200 ||
    (status !== '' && !statuses.has(status)) ||
    !Number.isInteger(limit) ||
    limit < 1 ||
    limit > 100
  ) {
    refuse(res, 400, 'HR_VALIDATION');
    return;
  }
  const secret = bearer.exec(req.headers.authorization ?? '')?.[1];
  if (secret === undefined) {
    refuse(res, 401, 'HR_UNAUTHENTICATED');
    return;
  }
  const digest = createHash('sha256').update(secret).digest('base64url');
  const now = Date.now();
  let principal = principals.get(digest);
  if (principal === undefined) {
    principal = { tenantId: 1, expiresAt: now + 3_600_000 };
    principals.set(digest, principal);
  }
  if (principal.expiresAt <= now) {
    refuse(res, 401, 'HR_UNAUTHENTICATED');
    return;
  }
  let bucket = buckets.get(principal.tenantId);
  if (bucket === undefined) {
    bucket = { tokens: quota.capacity, at: now };
    buckets.set(principal.tenantId, bucket);
  }
  bucket.tokens = Math.min(quota.capacity, bucket.tokens + (now - bucket.at) * quota.perMs);
  bucket.at = now;
  if (bucket.tokens < 1) {
    refuse(res, 429, 'HR_RATE_LIMITED');
    return;
  }
  bucket.tokens -= 1;
  const key = `${principal.tenantId}\u0000search\u0000${q}\u0000${status}\u0000${limit}\u0000${cursor}`;
  let page = pages.get(key);
  if (page === undefined) {
    page = bytes;
    pages.set(key, page);
  }
  const fresh = req.headers['if-none-match'] === etag;
  res.writeHead(fresh ? 304 : 200, {
    'x-request-id': randomUUID(),
    'cache-control': 'private, no-cache',
    vary: 'x-tenant-id, authorization, accept-encoding',
    etag,
    ratelimit: `"enterprise";r=${Math.floor(bucket.tokens)};t=0`,
    'ratelimit-policy': policy,
    ...(fresh ? {} : { 'content-type': 'application/json; charset=utf-8', 'content-length': page.length }),
  });
  res.end(fresh ? undefined : page);
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
