// Casebook's cached search built the way a team glues it today, for bench/peer-stack.ts: the same request, the
// same SQL on the same PostgreSQL (DATABASE_URL), the same JSON bytes out, through these libraries instead of
// Headroom:
//
// - bentocache (memory driver, `serialize: false`: its fastest L1, entries kept as objects, as bench/cache.ts
//   measures it): caches the search page under a tenant-scoped key (`tenant:<id>:search:…`) with casebook.yaml's
//   cache times (ttl 60 s, grace 5 min, 2 s grace backoff, 250 ms soft timeout) and a tenant tag a case write
//   would invalidate (`tenant:<id>:cases`), as casebook tags its pages. Its `cache:hit` / `cache:miss` events
//   feed a prom-client counter, the peer of casebook's `headroom_cache_requests_total`.
// - Fastify's response schema (casebook's own `PagedList(CaseSummary)`) serializes the cached page on every
//   answer with fast-json-stringify, which also keeps only the schema's members (the row's `sort_at` goes).
// - @fastify/rate-limit: per tenant (`keyGenerator` = the principal's tenant), `max` = the tier's quota from
//   casebook.yaml × QUOTA_SCALE (as casebook's limits are scaled), its window; an onRequest hook that runs after
//   authentication (route-level hooks run after the scope's); the IETF draft headers, as casebook sends.
// - @fastify/etag: a strong SHA-1 ETag of every answer's bytes (the plugin's default) and 304 on If-None-Match.
// - prom-client: `http_request_duration_seconds` (histogram, casebook's bucket edges) and `http_requests_total`
//   by method, route template and code from an onResponse hook, default process metrics, GET /metrics.
// - @fastify/compress (br, gzip from 1 KB), as casebook compresses its answers.
// - Authentication is casebook's own hook (apps/casebook/src/auth/authenticate.ts), its principal cache
//   included, so that authenticating costs both sides the same; Cache-Control and Vary as casebook sends them.
//
// PEER_CACHE=bytes: the same stack tuned by hand as casebook is built: bentocache holds the page's JSON text
// (the route's serializer, run once at load) and its ETag (@fastify/etag's SHA-1, computed once), and the route
// sends them as they are; no serializer or hash runs per answer.
//
//   DATABASE_URL=postgres://… QUOTA_SCALE=1000 node bench/servers/peer-stack.ts   → "listening on <url>"

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import compress from '@fastify/compress';
import etag from '@fastify/etag';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createCache } from '@headroom/core/cache';
import { systemClock } from '@headroom/core/clock';
import { loadSpec } from '@headroom/core/slo';
import { durationBuckets } from '@headroom/fastify';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import Fastify, { type FastifyReply } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Static } from 'typebox';
import { authenticate } from '../../apps/casebook/src/auth/authenticate.ts';
import { type SearchRow, searchQuery } from '../../apps/casebook/src/cases/queries.ts';
import { CaseSummary, SearchQuery } from '../../apps/casebook/src/cases/schemas.ts';
import { databasePool } from '../../apps/casebook/src/db/pool.ts';
import { decodeCursor, page } from '../../apps/casebook/src/http/cursor.ts';
import { PagedList } from '../../apps/casebook/src/http/envelope.ts';
import { defaultSettingsDir, loadSettings } from '../../apps/casebook/src/settings.ts';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL must name casebook’s database');
const scale = Number(process.env.QUOTA_SCALE ?? 1);
const cachesBytes = process.env.PEER_CACHE === 'bytes';
const clock = systemClock();
// casebook.yaml's values (tier quotas, page caps, cache times), read once.
const settings = await loadSettings({ dir: defaultSettingsDir, clock, watch: false });
const { tiers, cache: times } = settings.get();
const windows = new Set(Object.values(tiers).map((tier) => tier.rateLimit.window));
if (windows.size !== 1)
  throw new Error('peer-stack: @fastify/rate-limit here takes one window for all tiers');
const pool = databasePool(databaseUrl);

const bento = new BentoCache({
  default: 'memory',
  stores: { memory: bentostore().useL1Layer(memoryDriver({ serialize: false, maxItems: 10_000 })) },
});

const registry = new Registry();
collectDefaultMetrics({ register: registry });
const labelNames = ['method', 'route', 'code'] as const;
const duration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Time from request received to response sent, by route template.',
  labelNames,
  buckets: durationBuckets(await loadSpec(join(import.meta.dirname, '../../apps/casebook/headroom.yaml'))),
  registers: [registry],
});
const answers = new Counter({
  name: 'http_requests_total',
  help: 'Responses sent, by route template and status code.',
  labelNames,
  registers: [registry],
});
const cacheRequests = new Counter({
  name: 'bentocache_requests_total',
  help: 'bentocache reads by result.',
  labelNames: ['result'] as const,
  registers: [registry],
});
bento.on('cache:hit', () => cacheRequests.inc({ result: 'hit' }));
bento.on('cache:miss', () => cacheRequests.inc({ result: 'miss' }));

const app = Fastify({
  logger: { level: process.env.LOG_LEVEL ?? 'warn' },
});
app.addHook('onResponse', (request, reply, done) => {
  const labels = {
    method: request.method,
    route: request.routeOptions.url ?? '__unmatched__',
    code: reply.statusCode,
  };
  duration.observe(labels, reply.elapsedTime / 1000);
  answers.inc(labels);
  done();
});
await app.register(etag);
await app.register(compress, { global: true, encodings: ['br', 'gzip'], threshold: 1024 });
app.get('/metrics', async (_request, reply) => {
  reply.type(registry.contentType);
  return registry.metrics();
});

await app.register(async (api) => {
  const principals = createCache({ name: 'principals', clock });
  api.addHook('onRequest', authenticate({ db: pool, clock, cache: principals }));
  api.addHook('onClose', () => principals.close());
  await api.register(rateLimit, {
    keyGenerator: (request) => String(request.principal.tenantId),
    max: (request) => tiers[request.principal.tier].rateLimit.limit * scale,
    timeWindow: [...windows][0]!,
    enableDraftSpec: true,
  });
  api
    .withTypeProvider<TypeBoxTypeProvider>()
    .get(
      '/v1/cases/search',
      { schema: { querystring: SearchQuery, response: { 200: PagedList(CaseSummary) } } },
      async (request, reply) => {
        const { tenantId, tier } = request.principal;
        const { status, cursor } = request.query;
        const q = request.query.q?.trim() ? request.query.q : undefined;
        const limit = Math.min(request.query.limit ?? 20, tiers[tier].pageCap);
        const after = cursor ? decodeCursor(cursor) : undefined;
        reply.header('cache-control', 'private, no-cache').header('vary', 'x-tenant-id, authorization');
        const caching = {
          key: `tenant:${tenantId}:search:${q ?? ''}:${status ?? ''}:${limit}:${cursor ?? ''}`,
          ttl: times.ttl,
          grace: times.grace,
          graceBackoff: 2_000,
          timeout: times.timeout,
          tags: [`tenant:${tenantId}:cases`],
        };
        const load = async () => {
          const { rows } = await pool.query<SearchRow>(
            searchQuery({ tenantId, q, status, after, fetch: limit + 1 }),
          );
          // The rows as they are (status and priority hold the enums' values): the response schema keeps
          // the members a summary has.
          return page(rows, limit, (row) => row.sort_at, summary);
        };
        if (!cachesBytes) return bento.getOrSet({ ...caching, factory: load });
        const entry = await bento.getOrSet({
          ...caching,
          factory: async () => {
            const body = reply.serializeInput({ ...(await load()) }, '200') as string;
            return { body, etag: `"${createHash('sha1').update(body).digest('base64')}"` };
          },
        });
        // JSON text with a JSON content type: Fastify sends it as it is.
        const raw: FastifyReply = reply;
        return raw.header('etag', entry.etag).type('application/json; charset=utf-8').send(entry.body);
      },
    );
});

function summary(row: SearchRow): Static<typeof CaseSummary> {
  return row as unknown as Static<typeof CaseSummary>;
}

const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening on ${url}\n`);
process.on('SIGTERM', () => {
  void (async () => {
    await app.close();
    await bento.disconnectAll();
    await pool.end();
    await settings.close();
    process.exit(0);
  })();
});
