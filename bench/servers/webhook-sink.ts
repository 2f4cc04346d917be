// The receiver of the webhook bench: answers 204 at once, except under /hang, where it holds the request open
// (an endpoint that times out). Counts requests per path; GET /counts reports them.

import { createServer } from 'node:http';

const counts: Record<string, number> = {};
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/counts') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts));
    return;
  }
  req.resume();
  req.on('end', () => {
    const path = req.url ?? '';
    counts[path] = (counts[path] ?? 0) + 1;
    if (path.startsWith('/hang')) return; // never answered: the sender's time limit ends it
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
