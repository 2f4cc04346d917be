// The peer of the HTTP baselines: bare Fastify serving a 20-item JSON page shaped like a search result.

import Fastify from 'fastify';

const statuses = ['open', 'investigating', 'escalated', 'closed'];
const page = {
  data: Array.from({ length: 20 }, (_, i) => ({
    id: 100_000 - i,
    title: `Suspected card fraud ring #${i} across merchant accounts`,
    status: statuses[i % 4],
    priority: 'high',
    owner_id: 40 + i,
    created_at: new Date(Date.UTC(2026, 4, 1, 12, i)).toISOString(),
    updated_at: new Date(Date.UTC(2026, 4, 2, 12, i)).toISOString(),
  })),
  page: { next_cursor: 'WyIyMDI2LTA1LTAxIDEyOjE5OjAwKzAwIiw5OTk4MV0', limit: 20 },
};

const app = Fastify({ logger: false });
app.get('/page', async () => page);
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`listening on ${url}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
