// `config.idempotency` of a route: the Idempotency-Key protocol around its handler. The key is looked at
// once validation, authentication and rate limits have passed (their refusals are not recorded); a replay
// answers without running the handler; the answer is recorded before it is sent, so a retry that arrives
// the moment it lands finds it; a 5xx gives the key up, so the retry runs again.

import { invalidOption } from '@headroom/core/errors';
import type { Idempotency, IdempotentRun, Queryable } from '@headroom/core/idempotency';
import { idempotencyErrors, parseIdempotencyKey } from '@headroom/core/idempotency';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler, RouteOptions } from 'fastify';

/** `config.idempotency` of a route. */
export interface RouteIdempotency {
  /** A request without `Idempotency-Key` is refused with 400 HR_IDEMPOTENCY_KEY_MISSING. @default false */
  required?: boolean;
  /** Who the caller is: a key means the same only for the same tenant and principal (and route). */
  scope: (request: FastifyRequest) => { tenant: string; principal: string };
}

/** What a keyed request's handler can do with its key (`request.idempotency`). */
export interface RequestIdempotency {
  /** The client's key. */
  readonly key: string;
  /**
   * Records the answer through the handler's own transaction (a PostgreSQL store), so the record commits or
   * rolls back with the write; call it just before COMMIT with exactly what the route answers.
   */
  completeWithin(
    client: Queryable,
    status: number,
    body: string,
    headers?: Record<string, string>,
  ): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on a route with `config.idempotency` when the request carries a key this request now holds. */
    idempotency?: RequestIdempotency;
  }
}

const kRun = Symbol('headroom.idempotentRun');
interface Held {
  run: IdempotentRun;
  /** onSend or onResponse has dealt with the key. */
  settled: boolean;
  /** The handler kept the answer in its transaction: nothing to keep here, but a 5xx still releases. */
  keptWithin: boolean;
}
type WithRun = FastifyRequest & { [kRun]?: Held };

/** The headers a replay repeats: what a client acts on after a create. */
const keptHeaders = ['location', 'content-location', 'etag', 'content-type'] as const;

/**
 * Adds the pre-handler a route's `config.idempotency` asks for; called from `onRoute`.
 *
 * @example
 * app.addHook('onRoute', (route) => idempotentRoute(route, idempotency));
 */
export function idempotentRoute(route: RouteOptions, idempotency: Idempotency | undefined): void {
  const config = (route.config as { idempotency?: RouteIdempotency } | undefined)?.idempotency;
  if (!config) return;
  if (!idempotency) {
    const rule = 'set only when the headroom plugin has an idempotency option';
    throw invalidOption(`route ${route.url}`, 'config.idempotency', rule, 'set');
  }
  const template = route.url;
  const hook: preHandlerAsyncHookHandler = async function idempotencyKey(request, reply) {
    const key = parseIdempotencyKey(request.headers['idempotency-key']);
    if (key === undefined) {
      if (config.required) {
        throw idempotencyErrors.create(
          'HR_IDEMPOTENCY_KEY_MISSING',
          'this route requires an Idempotency-Key header',
          {
            context: { field: 'headers.idempotency-key' },
          },
        );
      }
      return;
    }
    const { tenant, principal } = config.scope(request);
    const call = await idempotency.begin(
      { tenant, principal, method: request.method, route: template },
      key,
      {
        method: request.method,
        url: request.url,
        body: request.body,
      },
    );
    if (call.kind === 'replay') {
      const { status, headers, body, binary } = call.response;
      reply.code(status).headers(headers).header('idempotent-replayed', 'true');
      return reply.send(binary ? Buffer.from(body, 'base64') : body);
    }
    const held: Held = { run: call, settled: false, keptWithin: false };
    (request as WithRun)[kRun] = held;
    request.idempotency = {
      key,
      async completeWithin(client, status, body, headers = {}) {
        await call.completeWithin(client, { status, headers, body });
        held.keptWithin = true;
      },
    };
  };
  route.preHandler = [...[route.preHandler ?? []].flat(), hook];
  // Only keyed routes watch their requests' end: an onRequestAbort hook costs every request it covers a
  // 'close' listener, and a request of another route never holds a key. First, as the global hooks these
  // were ran before the route's own.
  route.onResponse = [releaseUnsettledKey, ...[route.onResponse ?? []].flat()];
  route.onRequestAbort = [releaseUnsettledKey, ...[route.onRequestAbort ?? []].flat()];
}

/**
 * The plugin's onSend hook: records a keyed request's answer before it leaves (or gives the key up on a 5xx).
 * A global hook, registered before any compression, so what is kept is the identity body. Callback-style:
 * a request without a key passes through with no promise and no extra tick.
 *
 * @example
 * app.addHook('onSend', recordIdempotentAnswer);
 */
export function recordIdempotentAnswer(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error: Error | null, payload?: unknown) => void,
): void {
  const held = (request as WithRun)[kRun];
  if (!held || held.settled) {
    done(null, payload);
    return;
  }
  held.settled = true;
  const status = reply.statusCode;
  // The answer goes out whatever the store says: turning a done write into a 500 would make the client
  // retry it. A store that fails here is logged; the key frees when its lock lapses.
  const sent = () => done(null, payload);
  const failed = (error: unknown) => {
    request.log.warn({ err: error }, 'idempotency: the store failed to keep or release a key');
    done(null, payload);
  };
  if (status >= 500 || !(typeof payload === 'string' || Buffer.isBuffer(payload))) {
    // A 5xx rolled its write back: the retry must run again. A streamed body cannot be replayed. When the
    // handler kept the answer in a transaction that then failed to commit, the record rolled back with it and
    // this frees the key; when the commit went through, release finds a kept answer and leaves it.
    held.run.release().then(sent, failed);
    return;
  }
  if (held.keptWithin) {
    sent();
    return;
  }
  const headers: Record<string, string> = {};
  for (const name of keptHeaders) {
    const value = reply.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  const binary = Buffer.isBuffer(payload);
  const body = binary ? payload.toString('base64') : payload;
  held.run.complete({ status, headers, body, ...(binary ? { binary } : {}) }).then(sent, failed);
}

// The onResponse and onRequestAbort hook of a keyed route: a keyed request that ended without onSend recording
// it (the client went away, the handler never answered) gives its key up, so the retry runs.
function releaseUnsettledKey(request: FastifyRequest, ...rest: unknown[]): void {
  const done = rest.at(-1) as (error?: Error) => void;
  const held = (request as WithRun)[kRun];
  if (!held || held.settled) {
    done();
    return;
  }
  held.settled = true;
  // Kept in the handler's transaction or not, release never touches a kept answer: it frees only a key
  // still running under this request's token.
  held.run.release().then(
    () => done(),
    (error: Error) => {
      request.log.warn({ err: error }, 'idempotency: releasing a key failed; it frees when its lock lapses');
      done();
    },
  );
}
