// The peer of the cache-hit bench: bare Fastify answering GET /page with the bytes of BYTES_FILE as JSON.

import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const bytes = readFileSync(process.env.BYTES_FILE ?? '/dev/null');
const app = Fastify({ logger: false });
app.get('/page', (_request, reply) => {
  reply.type('application/json; charset=utf-8').send(bytes);
});
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening on ${url}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
