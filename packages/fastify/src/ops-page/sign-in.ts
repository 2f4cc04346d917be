// Signing in to the operations page with the service's own authentication, and out again. The form posts an
// operator token, or an email and a password; the service says whose they are. Only an operator gets a session.

import type { Clock } from '@headroom/core/clock';
import type { HeadroomError } from '@headroom/core/errors';
import {
  createRateLimiter,
  rateLimitedError,
  rateLimitKey,
  retryAfterSeconds,
} from '@headroom/core/ratelimit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fastifyErrors } from '../errors.ts';
import type { Protection } from '../protection.ts';
import { crossOrigin, type OpsAccess } from './access.ts';
import { setSessionCookie } from './cookie.ts';
import { refusedHtml, signInHtml } from './page-html.ts';
import type { Sessions } from './session.ts';

/** What the sign-in form posts; a field left empty is absent. */
export interface OpsCredentials {
  token?: string;
  email?: string;
  password?: string;
}

/**
 * Checks credentials the service's own way: `operator` for an operator's, `other` for anyone else who
 * authenticated (a tenant admin, an analyst), undefined for credentials that are not valid.
 */
export type OpsSignIn = (
  credentials: OpsCredentials,
  request: FastifyRequest,
) => Promise<'operator' | 'other' | undefined>;

/** Sign-in attempts allowed per client address: `limit` per `window` ms sustained, `burst` at once. */
export interface SignInLimit {
  limit: number;
  window: number;
  burst?: number;
}

/** What {@link signInRoutes} needs. */
export interface SignInContext {
  prefix: string;
  service: string;
  sessions: Sessions;
  access: OpsAccess;
  signIn: OpsSignIn;
  limit: SignInLimit;
  ttl: number;
  clock: Clock;
  protection: Protection;
}

// The form's fields and their longest accepted values; the whole form fits in the route's body limit.
const fields = { token: 1024, email: 254, password: 1024 } as const;
const bodyLimit = 4096;

/**
 * Registers `GET sign-in` (the form), `POST sign-in` (a session for an operator, 403 for anyone else, 401 for
 * credentials that are not valid, 429 past the limit of attempts per client address) and `POST sign-out`, in
 * `scope` (which parses `application/x-www-form-urlencoded` bodies into URLSearchParams).
 *
 * @example
 * signInRoutes(scope, { prefix, service, sessions, access, signIn, limit, ttl, clock, protection });
 */
export function signInRoutes(scope: FastifyInstance, context: SignInContext): void {
  const { prefix, service, sessions, access, signIn, ttl } = context;
  const policy = { name: 'ops-sign-in', ...context.limit };
  // Counted with the app's other limiters: `headroom_ratelimit_decisions_total{policy="ops-sign-in"}`.
  const limiter = context.protection.rateLimiter(createRateLimiter({ clock: context.clock }));
  const form = (reply: FastifyReply, status: number, message?: string) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(signInHtml({ prefix, service, ...(message === undefined ? {} : { message }) }));
  // A browser (its form asks for HTML) gets a page saying why; any other client a problem+json with a stable
  // code, as every other 4xx of the service.
  const refuse = (request: FastifyRequest, error: HeadroomError, page: () => unknown) => {
    if (!wantsHtml(request)) throw error;
    return page();
  };
  const refusedPage = (reply: FastifyReply) => () =>
    reply.code(403).type('text/html; charset=utf-8').send(refusedHtml({ prefix, service }));

  scope.get('/sign-in', async (request, reply) => {
    if (access.sessionOf(request) !== undefined) return reply.code(303).header('location', prefix).send();
    return form(reply, 200);
  });

  scope.post('/sign-in', { bodyLimit }, async (request, reply) => {
    const foreign = crossOrigin(request);
    if (foreign !== undefined)
      return refuse(request, fastifyErrors.create('HR_FORBIDDEN', `refused: ${foreign}`), () =>
        form(reply, 403, `Refused: ${foreign}.`),
      );
    // A limiter on its own memory store decides at once.
    const decision = limiter.checkSync(
      rateLimitKey({ client: request.ip || 'unknown' }, 'ops-sign-in'),
      policy,
    )!;
    if (!decision.allowed) {
      const seconds = retryAfterSeconds(decision);
      reply.header('retry-after', String(seconds));
      return refuse(request, rateLimitedError(decision), () =>
        form(reply, 429, `Too many sign-in attempts from your address; try again in ${seconds} s.`),
      );
    }
    const credentials = credentialsOf(request.body);
    if (credentials === undefined) {
      reply.header('www-authenticate', `Cookie realm="headroom-ops", form-action="${prefix}/sign-in"`);
      const detail = 'Enter an operator token, or an email and a password.';
      return refuse(request, unauthenticated(detail), () => form(reply, 401, detail));
    }
    const role = await signIn(credentials, request);
    if (role === 'operator') {
      const { value } = sessions.issue('operator');
      setSessionCookie(request, reply, value, prefix, ttl);
      return reply.code(303).header('location', prefix).send();
    }
    if (role === 'other') {
      const error = fastifyErrors.create('HR_FORBIDDEN', 'the operations page needs the operator role');
      return refuse(request, error, refusedPage(reply));
    }
    reply.header('www-authenticate', `Cookie realm="headroom-ops", form-action="${prefix}/sign-in"`);
    const detail = 'Those credentials are not valid.';
    return refuse(request, unauthenticated(detail), () => form(reply, 401, detail));
  });

  scope.post('/sign-out', { bodyLimit }, async (request, reply) => {
    const session = access.sessionOf(request);
    if (session !== undefined) {
      const token = request.body instanceof URLSearchParams ? request.body.get('csrf_token') : undefined;
      access.checkAction(request, session, token);
    }
    setSessionCookie(request, reply, '', prefix, 0);
    return reply.code(303).header('location', `${prefix}/sign-in`).send();
  });
}

const unauthenticated = (detail: string) => fastifyErrors.create('HR_UNAUTHENTICATED', detail);

// A browser's form post asks for HTML first; fetch, curl and API clients do not.
function wantsHtml(request: FastifyRequest): boolean {
  return /\btext\/html\b/.test(request.headers.accept ?? '');
}

// The form's fields, trimmed; undefined when a field is too long or nothing usable was sent.
function credentialsOf(body: unknown): OpsCredentials | undefined {
  if (!(body instanceof URLSearchParams)) return undefined;
  const credentials: OpsCredentials = {};
  for (const [field, max] of Object.entries(fields) as [keyof OpsCredentials, number][]) {
    const value = field === 'password' ? body.get(field) : body.get(field)?.trim();
    if (value === null || value === undefined || value === '') continue;
    if (value.length > max) return undefined;
    credentials[field] = value;
  }
  const usable =
    credentials.token !== undefined ||
    (credentials.email !== undefined && credentials.password !== undefined);
  return usable ? credentials : undefined;
}
