// A webhook receiver for casebook's deliveries, as a service on the other end should write one: it verifies the
// Standard Webhooks signature with the spec authors' `standardwebhooks` package (timestamp within 5 minutes,
// any of the signatures during a rotation), answers 2xx fast, and treats `webhook-id` as the idempotency key
// (a retry of a message it already took is acknowledged, not processed twice).
//
//   WEBHOOK_SECRET=whsec_... node apps/casebook/scripts/webhook-receiver.ts --port 9000
//   node apps/casebook/scripts/webhook-receiver.ts --port 9000 --raw     (no secret: print each request whole)
//
// Each request is one JSON line on stdout: {id, type, duplicate, verified} (with --raw: {path, headers, body}).
// Casebook delivers to loopback only when WEBHOOK_ALLOWED_HOSTS names the receiver (`127.0.0.1:9000`).

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9000' },
    host: { type: 'string', default: '127.0.0.1' },
    raw: { type: 'boolean', default: false },
  },
});
const secret = process.env.WEBHOOK_SECRET;
const verifier = secret ? new Webhook(secret) : undefined;
/** Message ids already taken (a real service keeps them in its database, in the transaction that acts). */
const seen = new Set<string>();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(req.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
    };
    if (values.raw) {
      process.stdout.write(`${JSON.stringify({ path: req.url, headers, body })}\n`);
      res.writeHead(204).end();
      return;
    }
    let event: { type: string; data: unknown };
    try {
      // Verify the exact bytes received, before parsing them.
      event = verifier ? (verifier.verify(body, headers) as typeof event) : JSON.parse(body);
    } catch (error) {
      const reason = error instanceof WebhookVerificationError ? error.message : 'not JSON';
      process.stdout.write(`${JSON.stringify({ id: headers['webhook-id'], rejected: reason })}\n`);
      res.writeHead(401).end();
      return;
    }
    const duplicate = seen.has(headers['webhook-id']);
    seen.add(headers['webhook-id']);
    process.stdout.write(
      `${JSON.stringify({ id: headers['webhook-id'], type: event.type, duplicate, verified: Boolean(verifier) })}\n`,
    );
    res.writeHead(204).end(); // acknowledge first; do slow work from a queue of your own
  });
});

server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ listening: `http://${values.host}:${port}` })}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => server.close(() => process.exit(0)));
