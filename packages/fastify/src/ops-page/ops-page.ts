// The operations page `/_headroom`: one HTML page of the service's SLOs, top offenders, protection, caches, work
// and release, with the controls an on-call engineer needs, for operators only. Registered by the plugin's
// `opsPage` option, or by calling `opsPage` after the plugin.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:zlib';
import compress from '@fastify/compress';
import { invalidOption } from '@headroom/core/errors';
import { rateLimitPolicy } from '@headroom/core/ratelimit';
import type { FastifyInstance } from 'fastify';
import { breakerControls } from '../controls/breakers.ts';
import { opsAccess } from './access.ts';
import { actionRoutes } from './actions.ts';
import { opsAssets } from './assets.ts';
import { BurnHistory } from './burn-history.ts';
import { opsPageHtml } from './page-html.ts';
import { readRouteSeries } from './route-series.ts';
import { createSessions } from './session.ts';
import { type OpsSignIn, type SignInLimit, signInRoutes } from './sign-in.ts';
import { sloCounts } from './slo-rows.ts';
import { type OpsPageDeps, readRelease, readState } from './state.ts';

export type { BreakerControls } from '../controls/breakers.ts';
export { breakerControls } from '../controls/breakers.ts';
export type { OpsCredentials, OpsSignIn, SignInLimit } from './sign-in.ts';
export type { OpsPageDeps, OpsState } from './state.ts';

/** The `opsPage` option of the plugin. */
export interface OpsPageOptions {
  /**
   * Checks the credentials of the sign-in form (an operator token, or an email and a password) the service's own
   * way: `operator` gets a session; `other` (someone who authenticated but is no operator) gets 403; undefined
   * (not valid) gets the form again with 401.
   */
  signIn: OpsSignIn;
  /**
   * The key of the session cookies and CSRF tokens (HMAC-SHA256), at least 32 characters, the same on every
   * instance behind one address. @default a random key per process: a session then lasts as long as the process
   * and works only on the instance that issued it
   */
  secret?: string;
  /** How long a session lasts (ms). @default 28_800_000 (8 h) */
  sessionTtl?: number;
  /** Where the page lives; its cookie is limited to this path. @default '/_headroom' */
  prefix?: string;
  /** Sign-in attempts per client address (`request.ip`). @default { limit: 5, window: 60_000, burst: 5 } */
  signInLimit?: SignInLimit;
  /** How often the page reads the state (ms). @default 3000 */
  pollInterval?: number;
  /**
   * The service's slowest database statements, for the top offenders (casebook: `queryLeaderboard` of
   * `@headroom/core/db` on its pool). Read with the rest of the state, bounded to 2 s, at most once every
   * 15 s however many pages poll (pg_stat_statements moves slowly and reading it is not free). @default none
   */
  slowQueries?: () => Promise<unknown>;
  /** How often (ms) each objective's counts are sampled for the burn rates over 5 minutes and 1 hour. @default 15000 */
  burnSampleInterval?: number;
}

const defaultOptions = {
  sessionTtl: 8 * 60 * 60 * 1000,
  prefix: '/_headroom',
  signInLimit: { limit: 5, window: 60_000, burst: 5 },
  pollInterval: 3000,
  burnSampleInterval: 15_000,
} as const;

// The page loads its own scripts and styles and talks to its own origin only; nothing may frame it.
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * Registers the operations page under `prefix`: `GET /` (the page), `GET|POST sign-in`, `POST sign-out`,
 * `GET api/state` (the JSON snapshot the page polls), the actions under `api/` (see actions.ts) and the page's
 * assets. Every answer carries a strict Content-Security-Policy, `no-store` (assets: `no-cache` with an ETag)
 * and no referrer to another origin. The routes skip the plugin's overload limit: operators act while the
 * service sheds.
 *
 * @example
 * await opsPage(app, { ...app.headroom, clock, spec }, {
 *   secret: process.env.OPS_SECRET,
 *   signIn: async ({ token }) => (token && isOperatorToken(token) ? 'operator' : undefined),
 * });
 */
export async function opsPage(
  app: FastifyInstance,
  deps: OpsPageDeps,
  options: OpsPageOptions,
): Promise<void> {
  const { prefix, ttl, limit, pollInterval, secret, sampleEvery } = checked(options);
  const sessions = createSessions({ secret, clock: deps.clock, ttl });
  const access = opsAccess(sessions, prefix);
  const history = new BurnHistory();
  const context = {
    ...deps,
    breakers: deps.breakers ?? breakerControls(deps.protection),
    history,
    slowQueries: options.slowQueries && atMostEvery(options.slowQueries, slowQueriesEvery, deps.clock),
  };
  sampleBurn(app, deps, history, sampleEvery);
  const service = (await readRelease(deps.registry, deps.clock)).service;

  await app.register(
    async (scope) => {
      scope.addHook('onRoute', function exemptFromOverload(route) {
        route.config = { ...route.config, overload: false };
      });
      scope.addHook('onRequest', async function securityHeaders(_request, reply) {
        reply.headers({
          'content-security-policy': contentSecurityPolicy,
          'x-content-type-options': 'nosniff',
          // Not `no-referrer`: under it a browser sends `Origin: null` with the page's own POSTs, and the origin
          // check would refuse them. `same-origin` sends no referrer to any other origin either.
          'referrer-policy': 'same-origin',
          'cross-origin-opener-policy': 'same-origin',
          'cross-origin-resource-policy': 'same-origin',
          'cache-control': 'no-store',
          vary: 'cookie',
        });
      });
      // The page, its assets and its state in br or gzip when asked (casebook's: 119 KB of bodies, 38 KB in br,
      // `npm run bench:ops-page`), whatever the service does for its own routes; brotli at quality 4, as cheap as gzip.
      await scope.register(compress, {
        global: true,
        threshold: 1024,
        encodings: ['br', 'gzip'],
        brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } },
      });
      scope.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string' },
        (_request, body, done) => done(null, new URLSearchParams(body as string)),
      );
      scope.get('/', { onRequest: access.page }, async (request, reply) => {
        const session = access.sessionOf(request)!;
        const csrfToken = sessions.csrfToken(session);
        return reply
          .type('text/html; charset=utf-8')
          .send(opsPageHtml({ prefix, service, csrfToken, pollInterval }));
      });
      scope.get('/api/state', { onRequest: access.api }, () => readState(context, prefix));
      signInRoutes(scope, {
        prefix,
        service,
        sessions,
        access,
        signIn: options.signIn,
        limit,
        ttl,
        clock: deps.clock,
        protection: deps.protection,
      });
      actionRoutes(scope, { access, ...context });
      opsAssets(scope);
    },
    { prefix },
  );
}

/** How often (ms) the slow statements are read again; polls in between get the last read. */
const slowQueriesEvery = 15_000;

// `read`, called at most once every `ms`: callers in between share the last read (a failed one is not kept).
function atMostEvery<T>(read: () => Promise<T>, ms: number, clock: OpsPageDeps['clock']): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = clock.monotonic();
    if (last === undefined || now - last.at >= ms) {
      const value = read();
      const kept = { at: now, value };
      last = kept;
      value.catch(() => {
        if (last === kept) last = undefined;
      });
    }
    return last.value;
  };
}

// Samples every objective's counts now and every `every` ms until the app closes.
function sampleBurn(app: FastifyInstance, deps: OpsPageDeps, history: BurnHistory, every: number): void {
  const objectives = deps.spec?.objectives ?? [];
  if (objectives.length === 0) return;
  let timer: ReturnType<typeof deps.clock.setTimeout> | undefined;
  let closed = false;
  const sample = async () => {
    history.record(deps.clock.now(), sloCounts(objectives, await readRouteSeries(deps.registry)));
    if (!closed) timer = deps.clock.setTimeout(() => void sample(), every);
  };
  app.addHook('onReady', sample);
  app.addHook('onClose', async () => {
    closed = true;
    timer?.cancel();
  });
}

function checked(options: OpsPageOptions) {
  const invalid = (name: string, rule: string, value: unknown) =>
    invalidOption('@headroom/fastify opsPage', name, rule, value);
  if (typeof options?.signIn !== 'function') throw invalid('signIn', 'a function', options?.signIn);
  const prefix = options.prefix ?? defaultOptions.prefix;
  if (typeof prefix !== 'string' || !/^\/[A-Za-z0-9_~.-]+(\/[A-Za-z0-9_~.-]+)*$/.test(prefix)) {
    throw invalid('prefix', 'a path like "/_headroom" (no trailing slash)', prefix);
  }
  const ttl = options.sessionTtl ?? defaultOptions.sessionTtl;
  if (!(Number.isSafeInteger(ttl) && ttl >= 60_000))
    throw invalid('sessionTtl', 'an integer of ms >= 60000', ttl);
  const pollInterval = options.pollInterval ?? defaultOptions.pollInterval;
  if (!(Number.isSafeInteger(pollInterval) && pollInterval >= 500)) {
    throw invalid('pollInterval', 'an integer of ms >= 500', pollInterval);
  }
  const sampleEvery = options.burnSampleInterval ?? defaultOptions.burnSampleInterval;
  if (!(Number.isSafeInteger(sampleEvery) && sampleEvery >= 1000)) {
    throw invalid('burnSampleInterval', 'an integer of ms >= 1000', sampleEvery);
  }
  if (options.slowQueries !== undefined && typeof options.slowQueries !== 'function') {
    throw invalid('slowQueries', 'a function', options.slowQueries);
  }
  const limit = options.signInLimit ?? defaultOptions.signInLimit;
  // Throws HR_INVALID_OPTION naming the field at fault.
  rateLimitPolicy({ name: 'ops-sign-in', ...limit });
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length < 32)) {
    throw invalid('secret', 'a string of at least 32 characters', '(hidden)');
  }
  return { prefix, ttl, limit, pollInterval, sampleEvery, secret: options.secret ?? randomBytes(32) };
}
