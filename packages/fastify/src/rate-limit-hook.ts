// The rate-limit hook of a route or a scope: 429 + IETF RateLimit headers when a bucket is empty, the
// RateLimit and RateLimit-Policy headers on every answer it lets through; each request's decisions are counted
// by tenant when the plugin tracks them (rate-limit-tenants.ts).

import {
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitKey,
  type RateLimitPolicy,
  rateLimitedError,
  rateLimitHeader,
  rateLimitPolicyHeader,
} from '@headroom/core/ratelimit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { arrivedAt } from './arrival.ts';
import type { Protection } from './protection.ts';
import type { RateLimitTenants } from './rate-limit-tenants.ts';
import { timedHook } from './timing.ts';

/** The tracker of decisions by tenant, and how to tell a request's tenant (undefined: `anonymous`). */
export interface TenantTracking {
  tenants: RateLimitTenants;
  tenantOf: ((request: FastifyRequest) => string | undefined) | undefined;
}

/** One rate-limit check of a request: which bucket, under which policy. */
export interface RateLimitCheck {
  key: RateLimitKey;
  policy: string | RateLimitPolicy;
  /** Tokens this request takes. @default 1 */
  cost?: number;
}

/** `config.rateLimit` of a route. Checks run after authentication and body parsing, before validation. */
export interface RouteRateLimit {
  limiter: RateLimiter;
  /** The buckets a request draws from (per tenant, per client address, per account...); none = no limit. */
  checks: (request: FastifyRequest) => readonly RateLimitCheck[] | undefined;
}

/** A rate-limit hook, callback style (a decision made in this process needs no promise). */
export type RateLimitHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  done: (error?: Error) => void,
) => void;

/**
 * Builds the hook that enforces `config` (its limiter's decisions are counted in `protection`).
 *
 * @example
 * scope.addHook('preValidation', rateLimitHook({ limiter, checks: (r) => [{ key, policy: 'free' }] }, protection));
 */
export function rateLimitHook(config: RouteRateLimit, protection: Protection): RateLimitHook {
  protection.rateLimiter(config.limiter);
  const tracking = protection.tenantTracking;
  // The decisions as they come (the array `apply` is given), at the time they were charged: no allocation.
  const track =
    tracking === undefined
      ? undefined
      : (request: FastifyRequest, decisions: readonly RateLimitDecision[], at: number | undefined) =>
          tracking.tenants.observe(tracking.tenantOf?.(request), decisions, at);
  // The RateLimit-Policy value depends only on the policy objects: built once per policy (or pair), not per request.
  const policyHeaders = new WeakMap<object, string>();
  const policyHeader = (decisions: readonly RateLimitDecision[]) => {
    if (decisions.length !== 1) return rateLimitPolicyHeader(decisions.map((d) => d.policy));
    const policy = decisions[0]!.policy;
    let value = policyHeaders.get(policy);
    if (value === undefined) {
      value = rateLimitPolicyHeader(policy);
      policyHeaders.set(policy, value);
    }
    return value;
  };
  const apply = (reply: FastifyReply, decisions: readonly RateLimitDecision[]): void => {
    let worst: RateLimitDecision | undefined;
    for (const d of decisions) {
      // The violated policy that frees up last decides Retry-After; every policy still shows in the headers.
      if (!d.allowed && (worst === undefined || d.retryAfterMs > worst.retryAfterMs)) worst = d;
    }
    if (worst !== undefined) {
      const error = rateLimitedError(worst);
      error.headers['ratelimit-policy'] = policyHeader(decisions);
      error.headers.ratelimit = rateLimitHeader(decisions);
      throw error;
    }
    reply.header('ratelimit-policy', policyHeader(decisions));
    reply.header('ratelimit', rateLimitHeader(decisions));
  };
  // Callback style: with a store in this process a single check decides at once, and makes no promise. Its
  // time is phase `ratelimit` of the request.
  return timedHook('ratelimit', function checkRateLimits(request, reply, done): void {
    let decisions: Promise<RateLimitDecision[]>;
    // Charged when the request arrived (the plugin's first hook stamps it), not after what held it since.
    const at = request[arrivedAt] || undefined;
    try {
      const checks = config.checks(request);
      if (!checks || checks.length === 0) {
        done();
        return;
      }
      if (checks.length === 1) {
        const check = checks[0]!;
        const now = config.limiter.checkSync(check.key, check.policy, optionsOf(check, at));
        if (now !== undefined) {
          const decided = [now];
          track?.(request, decided, at);
          apply(reply, decided);
          done();
          return;
        }
      }
      decisions = Promise.all(checks.map((c) => config.limiter.check(c.key, c.policy, optionsOf(c, at))));
    } catch (error) {
      done(error as Error);
      return;
    }
    decisions.then(
      (all) => {
        try {
          track?.(request, all, at);
          apply(reply, all);
        } catch (error) {
          done(error as Error);
          return;
        }
        done();
      },
      (error: Error) => done(error),
    );
  });
}

const optionsOf = (check: RateLimitCheck, at: number | undefined) =>
  check.cost === undefined ? { at } : { cost: check.cost, at };
