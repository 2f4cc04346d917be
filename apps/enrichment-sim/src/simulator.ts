// The upstream enrichment service that casebook's suggestions route calls, simulated: deterministic
// suggestions per case, with latency, jitter, failures and hangs that tests and benches set while it runs
// (`PUT /_control`).

import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';

/** How the simulator behaves right now. */
export interface Behaviour {
  /** Added to every answer. */
  latencyMs: number;
  /** Uniform extra latency in [0, jitterMs). */
  jitterMs: number;
  /** Share of requests answered 503. */
  failureRate: number;
  /** Share of requests never answered (the connection stays open): what a timeout is for. */
  hangRate: number;
}

export const calm: Behaviour = { latencyMs: 5, jitterMs: 5, failureRate: 0, hangRate: 0 };

export interface SimulatorOptions {
  behaviour?: Partial<Behaviour>;
  /** @default Math.random */
  random?: () => number;
}

const kinds = [
  'linked-account',
  'shared-device',
  'watchlist-hit',
  'similar-case',
  'ip-reputation',
  'merchant-risk',
] as const;

/** The suggestions for one case: the same every time, so caches and fallbacks can be checked. */
export function suggestionsFor(tenant: string, caseId: number) {
  const digest = createHash('sha256').update(`${tenant}:${caseId}`).digest();
  return Array.from({ length: 3 + (digest[0]! % 3) }, (_, i) => ({
    kind: kinds[digest[i + 1]! % kinds.length]!,
    ref: `${tenant}-${digest.readUInt16BE(i * 2 + 4)}`,
    score: Math.round((digest[i + 10]! / 255) * 100) / 100,
  }));
}

/**
 * Builds the simulator (not listening). `GET /v1/enrich/:tenant/:caseId` answers suggestions;
 * `GET|PUT /_control` reads and changes the behaviour; `GET /_stats` counts requests.
 *
 * @example
 * const sim = createSimulator();
 * await sim.listen({ port: 0 });
 * await fetch(`${url}/_control`, { method: 'PUT', body: JSON.stringify({ latencyMs: 2000 }) });
 */
export function createSimulator(options: SimulatorOptions = {}): FastifyInstance {
  const random = options.random ?? Math.random;
  let behaviour: Behaviour = { ...calm, ...options.behaviour };
  const stats = { requests: 0, failures: 0, hangs: 0 };
  const hanging = new Set<() => void>();
  const app = Fastify({ logger: false, forceCloseConnections: true });

  app.get<{ Params: { tenant: string; caseId: string } }>(
    '/v1/enrich/:tenant/:caseId',
    async (request, reply) => {
      stats.requests++;
      const caseId = Number(request.params.caseId);
      if (!Number.isInteger(caseId) || caseId < 1)
        return reply.code(400).send({ error: 'caseId must be a positive integer' });
      const roll = random();
      if (roll < behaviour.hangRate) {
        stats.hangs++;
        await new Promise<void>((resolve) => hanging.add(resolve));
        return reply.code(503).send({ error: 'released' });
      }
      const delay = behaviour.latencyMs + random() * behaviour.jitterMs;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      if (roll < behaviour.hangRate + behaviour.failureRate) {
        stats.failures++;
        return reply.code(503).send({ error: 'enrichment temporarily unavailable' });
      }
      return {
        caseId,
        tenant: request.params.tenant,
        suggestions: suggestionsFor(request.params.tenant, caseId),
      };
    },
  );

  app.get('/_control', async () => behaviour);
  app.put<{ Body: Partial<Behaviour> }>('/_control', async (request, reply) => {
    const next = { ...behaviour, ...request.body };
    const valid =
      next.latencyMs >= 0 &&
      next.jitterMs >= 0 &&
      next.failureRate >= 0 &&
      next.hangRate >= 0 &&
      next.failureRate + next.hangRate <= 1;
    if (!valid)
      return reply.code(400).send({ error: 'latencyMs, jitterMs ≥ 0; failureRate + hangRate in [0, 1]' });
    behaviour = next;
    // Hung requests are released when the simulator calms down, so nothing stays open for ever.
    if (behaviour.hangRate === 0) for (const release of hanging) release();
    if (behaviour.hangRate === 0) hanging.clear();
    return behaviour;
  });
  app.get('/_stats', async () => stats);
  app.addHook('onClose', async () => {
    for (const release of hanging) release();
  });
  return app;
}
