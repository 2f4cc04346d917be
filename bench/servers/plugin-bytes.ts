// Bare Fastify + the headroom plugin (metrics, request ids, problem errors, HTTP caching) sending BYTES_FILE:
// how much of a cache-hit answer's cost is the plugin's.

import { readFileSync } from 'node:fs';
import { bytesEtag, headroom, requestIdOptions } from '@headroom/fastify';
import Fastify from 'fastify';

const bytes = readFileSync(process.env.BYTES_FILE ?? '/dev/null');
const app = Fastify({ logger: false, ...requestIdOptions() });
await app.register(headroom, {
  service: 'bench',
  version: '0',
  defaultMetrics: process.env.DEFAULT_METRICS !== 'off',
});
// The ETag is computed once, as a cache entry stores it: the row measures the plugin, not SHA-1 per request.
const etag = bytesEtag(bytes);
app.get('/page', { config: { httpCache: { scope: 'private', tenantScoped: true } } }, (_request, reply) => {
  reply.header('etag', etag).type('application/json; charset=utf-8').send(bytes);
});
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening on ${url}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
