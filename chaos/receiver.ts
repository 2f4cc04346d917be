// Webhook receivers a drill runs on loopback (the cluster's `webhookReceiverHosts`), and the endpoints that point
// at them: each keeps every request it got, as it arrived, so that a drill can say which events reached it, when,
// and whether each signature verifies with the npm `standardwebhooks` package.

import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { Cluster } from './cluster.ts';

/** One request a receiver got: when (epoch ms), its headers and raw body. */
export interface Received {
  at: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A receiver on `host`:`port` that answers 204 (after `delayMs`: a slow receiver) and keeps every request, as it
 * arrives; `down()` refuses connections.
 *
 * @example
 * const receiver = new Receiver(webhookReceiverHosts[0], await freePort());
 * await receiver.up();
 */
export class Receiver {
  readonly received: Received[] = [];
  delayMs = 0;
  #server: Server | undefined;
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }
  get url(): string {
    return `http://${this.host}:${this.port}/chaos`;
  }
  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) headers[name] = String(value);
        this.received.push({ at: Date.now(), headers, body });
        setTimeout(() => res.writeHead(204).end(), this.delayMs);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, resolve);
    });
    this.#server = server;
  }
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  /** When each message (`webhook-id`) first arrived, epoch ms. */
  firstReceipts(): Map<string, number> {
    const at = new Map<string, number>();
    for (const r of this.received) {
      const id = r.headers['webhook-id'] ?? '';
      if (!at.has(id)) at.set(id, r.at);
    }
    return at;
  }
}

/** Registers an acme endpoint (as `admin`, a token) for `events` at `url`; its id and secret. */
export async function registerEndpoint(
  cluster: Cluster,
  admin: string,
  url: string,
  events: readonly string[],
): Promise<{ id: number; secret: string }> {
  const res = await fetch(`${cluster.url}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url, events, description: 'chaos drill' }),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${body}`);
  return JSON.parse(body) as { id: number; secret: string };
}

/** Deletes endpoint `id`: the next drill's writes publish nothing to it. */
export async function deleteEndpoint(cluster: Cluster, admin: string, id: number): Promise<void> {
  const res = await fetch(`${cluster.url}/v1/webhooks/${id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${admin}` },
  });
  await res.arrayBuffer();
}

/** The requests among `received` that do not verify with `secret`: their webhook-id and why. */
export function unverified(received: readonly Received[], secret: string): string[] {
  const verifier = new Webhook(secret);
  const bad: string[] = [];
  for (const r of received) {
    try {
      verifier.verify(r.body, r.headers);
    } catch (error) {
      bad.push(`${r.headers['webhook-id']}: ${(error as Error).message}`);
    }
  }
  return bad;
}
