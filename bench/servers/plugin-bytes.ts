// Bare Fastify + the headroom plugin (metrics, request ids, problem errors, HTTP caching) sending BYTES_FILE:
// how much of a cache-hit answer's cost is the plugin's.

import { readFileSync } from 'node:fs';
import { headroom, requestIdOptions } from '@headroom/fastify';
import Fastify from 'fastify';

const bytes = readFileSync(process.env.BYTES_FILE ?? '/dev/null');
const app = Fastify({ logger: false, ...requestIdOptions() });
await app.register(headroom, {
  service: 'bench',
  version: '0',
  defaultMetrics: process.env.DEFAULT_METRICS !== 'off',
});
app.get('/page', { config: { httpCache: { scope: 'private', tenantScoped: true } } }, (_request, reply) => {
  reply.type('application/json; charset=utf-8').send(bytes);
});
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening on ${url}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
