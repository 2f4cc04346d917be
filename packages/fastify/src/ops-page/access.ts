// Who may see and act on the operations page: any request needs a valid session cookie; an action (a POST) also
// needs the session's CSRF token and must come from the page's own origin.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { fastifyErrors } from '../errors.ts';
import { sessionCookies } from './cookie.ts';
import { opsPageErrors } from './errors.ts';
import type { OpsSession, Sessions } from './session.ts';

/** What {@link opsAccess} returns: the session of a request, and the hooks that require one. */
export interface OpsAccess {
  /** The request's session, if a cookie it sent is valid. */
  sessionOf(request: FastifyRequest): OpsSession | undefined;
  /** onRequest of the page: without a session, 303 to the sign-in form. */
  page(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  /** onRequest of the JSON API: without a session, 401 problem+json. */
  api(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** onRequest of an action: a session, a same-origin request, and the CSRF token in `x-csrf-token`. */
  action(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Throws 403 HR_CSRF unless the request is same-origin and `token` is the session's CSRF token. */
  checkAction(request: FastifyRequest, session: OpsSession, token: unknown): void;
}

/**
 * The access rules of the page at `prefix`.
 *
 * @example
 * const access = opsAccess(sessions, '/_headroom');
 * scope.post('/api/breakers/:name/reset', { onRequest: access.action }, reset);
 */
export function opsAccess(sessions: Sessions, prefix: string): OpsAccess {
  // Read once per request: a hook and the handler both ask.
  const known = new WeakMap<FastifyRequest, OpsSession | undefined>();
  const sessionOf = (request: FastifyRequest) => {
    if (known.has(request)) return known.get(request);
    let found: OpsSession | undefined;
    for (const value of sessionCookies(request)) {
      found = sessions.read(value);
      if (found) break;
    }
    known.set(request, found);
    return found;
  };
  const required = (request: FastifyRequest) => {
    const session = sessionOf(request);
    if (session === undefined) {
      throw fastifyErrors.create('HR_UNAUTHENTICATED', 'sign in to the operations page first', {
        headers: { 'www-authenticate': `Cookie realm="headroom-ops", form-action="${prefix}/sign-in"` },
      });
    }
    return session;
  };
  const checkAction = (request: FastifyRequest, session: OpsSession, token: unknown) => {
    const foreign = crossOrigin(request);
    if (foreign !== undefined) throw opsPageErrors.create('HR_CSRF', foreign);
    if (!sessions.csrfMatches(session, token)) {
      throw opsPageErrors.create(
        'HR_CSRF',
        'the action lacks the CSRF token of your session (x-csrf-token); reload the page',
      );
    }
  };
  return {
    sessionOf,
    async page(request, reply) {
      if (sessionOf(request) !== undefined) return undefined;
      return reply.code(303).header('location', `${prefix}/sign-in`).send();
    },
    async api(request) {
      required(request);
    },
    async action(request) {
      checkAction(request, required(request), request.headers['x-csrf-token']);
    },
    checkAction,
  };
}

/**
 * Why a request is not from the page's own origin, or undefined when it may be. Browsers send `Origin` with
 * every POST and `Sec-Fetch-Site` with every request; a client that sends neither (curl) is not a browser
 * being tricked. The origin is `request.protocol` and `request.host`: behind a TLS-terminating proxy, set
 * Fastify's `trustProxy` so that they are the ones the browser used.
 */
export function crossOrigin(request: FastifyRequest): string | undefined {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `the request came from another site (Sec-Fetch-Site: ${String(site).slice(0, 20)})`;
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `${request.protocol}://${request.host}`) {
    return 'the request came from another origin than the operations page';
  }
  return undefined;
}
