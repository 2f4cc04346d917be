// A local server with a fixed capacity, for the verdicts that depend on one (spike, capacity): `GET /work` serves
// `rate` requests a second (bursts of `burst`) and, beyond that, refuses (429 with Retry-After), fails (500), or
// refuses and keeps refusing for 30 s ("sticky", a service that does not recover).

import Fastify, { type FastifyInstance } from 'fastify';

export interface FixedCapacity {
  app: FastifyInstance;
  /** What it does beyond its capacity. */
  mode: 'shed' | 'fail' | 'sticky';
  /** Requests a second it serves. */
  rate: number;
  /** Fills the bucket and forgets any penalty: a fresh server for the next run. */
  reset(): void;
}

/**
 * @example
 * const server = fixedCapacity({ rate: 100, burst: 10 });
 * const url = await server.app.listen({ port: 0, host: '127.0.0.1' });
 */
export function fixedCapacity(options: { rate: number; burst: number }): FixedCapacity {
  let tokens = options.burst;
  let refilledAt = performance.now();
  let penaltyUntil = 0;
  const app = Fastify();
  const server: FixedCapacity = {
    app,
    mode: 'shed',
    rate: options.rate,
    reset() {
      tokens = options.burst;
      refilledAt = performance.now();
      penaltyUntil = 0;
    },
  };
  app.get('/work', async (_request, reply) => {
    const now = performance.now();
    tokens = Math.min(options.burst, tokens + ((now - refilledAt) / 1000) * server.rate);
    refilledAt = now;
    if (server.mode === 'sticky' && now < penaltyUntil)
      return reply.code(429).header('retry-after', '1').send();
    if (tokens < 1) {
      if (server.mode === 'fail') return reply.code(500).send({ error: 'overloaded' });
      if (server.mode === 'sticky') penaltyUntil = now + 30_000;
      return reply.code(429).header('retry-after', '1').send();
    }
    tokens -= 1;
    // Where the time went, as a service instrumented with Server-Timing says it: a spec may budget the phase.
    reply.header('server-timing', 'work;dur=0.1, total;dur=0.2');
    return { ok: true };
  });
  return server;
}
