// Idempotency-Key on casebook's create routes: records in PostgreSQL, committed in the transaction of the
// write they guard, scoped by the caller's tenant and user.

import type { RouteIdempotency } from '@headroom/fastify';
import type { FastifyRequest } from 'fastify';
import type { Database, Queryable } from '../db/database.ts';

/** `config.idempotency` of a create route: a key is optional, and means the same only for one user. */
export const acceptsIdempotencyKey: RouteIdempotency = {
  scope: (request) => ({
    tenant: String(request.principal.tenantId),
    principal: `user:${request.principal.userId}`,
  }),
};

/** The media type of every JSON answer (what `sendJson` sets). */
export const jsonType = 'application/json; charset=utf-8';

/** What a create route answers, as the idempotency record keeps it. */
export interface Created {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/**
 * Runs a create: with an Idempotency-Key, in one transaction with the record of its answer (a crash between
 * the two cannot apply the request twice); without one, as a plain statement.
 *
 * @example
 * const created = await createOnce(db, request, async (tx) => { … return { status: 201, body, headers }; });
 */
export async function createOnce(
  db: Database,
  request: FastifyRequest,
  write: (tx: Queryable) => Promise<Created>,
): Promise<Created> {
  const idempotency = request.idempotency;
  if (!idempotency) return write(db);
  return db.transaction(async (tx) => {
    const created = await write(tx);
    await idempotency.completeWithin(tx, created.status, created.body, created.headers);
    return created;
  });
}
