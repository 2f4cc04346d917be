// GET /v1/cases/:id/suggestions: what the upstream enrichment service suggests for a case, through
// timeout + retry (with a budget) + circuit breaker + cache (fresh, then stale on failure) + fallback.
// An upstream that is slow, failing or cut off never turns into an error for the caller: the answer is
// fresh, stale (`stale: true`), or degraded (`partial: true`, no suggestions).

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Cache, cacheKey } from '@headroom/core/cache';
import type { Clock, Timer } from '@headroom/core/clock';
import type { Flags } from '@headroom/core/flags';
import {
  type CircuitBreakerPolicy,
  circuitBreaker,
  fallback,
  retry,
  retryBudget,
  timeout,
  wrap,
} from '@headroom/core/policy';
import { Type } from 'typebox';
import type { Database } from '../db/database.ts';
import { casebookErrors } from '../errors.ts';
import { flagContext } from '../flags.ts';
import { isStale } from '../http/cached-reads.ts';
import { envelopeVersion, Stale } from '../http/envelope.ts';
import { IdParams } from '../http/params.ts';
import { notFound } from '../http/problems.ts';
import { memoBy } from '../memo.ts';
import type { Settings, SettingsSource } from '../settings.ts';
import type { EnrichmentClient, Suggestion } from './enrichment-client.ts';
import { type SuggestionsTuning, suggestionsTuning } from './tuning.ts';

export interface SuggestionsRoutesOptions {
  db: Database;
  clock: Clock;
  enrichment: EnrichmentClient;
  cache: Cache;
  /** The timings in force (casebook.yaml's `suggestions`), read at every request. */
  settings: SettingsSource;
  /** Policy timings over the settings: tests and drills shorten them. */
  tuning?: Partial<SuggestionsTuning>;
  /** While the `suggestions` flag is off, answers are empty and partial, at once. @default always on */
  flags?: Flags;
}

/** The breaker's name in metrics, /health and the admin API. */
export const enrichmentBreakerName = 'enrichment';

/** What the route answers: a whole list (`version`, `data`) with the case and both flags. */
const SuggestionsAnswer = Type.Object(
  {
    version: Type.Literal(envelopeVersion),
    case_id: Type.Integer(),
    data: Type.Array(
      Type.Object(
        { kind: Type.String(), ref: Type.String(), score: Type.Number() },
        { additionalProperties: false },
      ),
    ),
    stale: Stale,
    partial: Type.Boolean({
      description:
        'true when the upstream could not be reached and nothing was cached: no suggestions, try later',
    }),
  },
  { additionalProperties: false },
);

interface Answer {
  version: typeof envelopeVersion;
  case_id: number;
  data: Suggestion[];
  /** Served from cache after the upstream failed. */
  stale: boolean;
  /** The upstream could not be reached and nothing was cached: no suggestions, try later. */
  partial: boolean;
}

export const suggestionsRoutes: FastifyPluginAsyncTypebox<SuggestionsRoutesOptions> = async (
  app,
  options,
) => {
  const { db, clock, enrichment, cache, settings } = options;
  const tuningOf = memoBy(
    (s: Settings['suggestions']): SuggestionsTuning => ({ ...suggestionsTuning(s), ...options.tuning }),
  );
  const tuning = tuningOf(settings.get().suggestions);
  const breaker: CircuitBreakerPolicy = app.headroom.protection.breaker(
    circuitBreaker({
      name: enrichmentBreakerName,
      window: { type: 'time', duration: 10_000, buckets: 10 },
      minimumCalls: 10,
      failureRateThreshold: tuning.failureRate,
      slowCallDurationThreshold: tuning.slowCallMs,
      slowCallRateThreshold: 0.5,
      halfOpenAfter: { initial: tuning.halfOpenAfterMs, max: tuning.halfOpenMaxMs },
      halfOpenProbes: 3,
      clock,
    }),
  );
  const retries = app.headroom.protection.retry(
    enrichmentBreakerName,
    retry({
      maxAttempts: 2,
      initialDelay: 20,
      maxDelay: 100,
      budget: retryBudget({ ratio: 0.1, clock }),
      clock,
    }),
  );
  // The upstream's policies for the timings in force: built again after a reload that changed them, when the
  // breaker takes the new thresholds too (its state and window kept).
  const upstreamFor = memoBy((t: SuggestionsTuning) => {
    if (t !== tuning) {
      breaker.tune({
        failureRateThreshold: t.failureRate,
        slowCallDurationThreshold: t.slowCallMs,
        halfOpenAfter: { initial: t.halfOpenAfterMs, max: t.halfOpenMaxMs },
      });
    }
    return wrap(
      timeout({ duration: t.totalTimeoutMs, clock }),
      retries,
      breaker,
      timeout({ duration: t.attemptTimeoutMs, clock }),
    );
  });
  const degraded = fallback({ to: () => undefined });

  // True or false when the database answers within `existsTimeout`; undefined when it cannot say (stalled or down).
  async function caseExists(
    tenantId: number,
    caseId: number,
    tuning: SuggestionsTuning,
  ): Promise<boolean | undefined> {
    let timer: Timer | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = clock.setTimeout(() => resolve(undefined), tuning.existsTimeoutMs);
    });
    const check = db
      .query({
        name: 'case-exists',
        text: 'SELECT 1 FROM cases WHERE tenant_id = $1 AND id = $2',
        values: [tenantId, caseId],
      })
      .then(
        ({ rowCount }) => rowCount !== 0,
        (error: unknown) => {
          if (casebookErrors.is(error, 'HR_DATABASE_UNAVAILABLE')) return undefined;
          throw error;
        },
      );
    try {
      return await Promise.race([check, late]);
    } finally {
      timer?.cancel();
    }
  }

  const schema = { params: IdParams, response: { 200: SuggestionsAnswer } };
  app.get('/v1/cases/:id/suggestions', { schema }, async (request, reply): Promise<Answer> => {
    const { tenantId, tenantSlug } = request.principal;
    const caseId = request.params.id;
    const tuning = tuningOf(settings.get().suggestions);
    const upstream = upstreamFor(tuning);
    const key = cacheKey({ tenant: String(tenantId) }, 'suggestions', caseId);
    // A fresh cached answer (tenant-scoped: its case existed in this tenant) needs no database. Otherwise
    // the case must exist, unless the database cannot say within a moment: then the answer is what the
    // cache kept for grace, or partial, and the upstream is not asked for a case nobody could check.
    const known = cache.peekEntry<Suggestion[]>(key) ? true : await caseExists(tenantId, caseId, tuning);
    if (known === false) throw notFound('case', caseId);
    // Turned off (the degrader, or an operator): no upstream call, an empty answer flagged partial.
    if (options.flags && !options.flags.enabled('suggestions', flagContext(request.principal))) {
      reply.header('x-headroom-degraded', 'suggestions');
      return { version: envelopeVersion, case_id: caseId, data: [], stale: false, partial: true };
    }
    const entry = await degraded.execute(() =>
      cache.getOrSetEntry<Suggestion[]>(
        key,
        ({ signal }) =>
          known
            ? upstream.execute(({ signal }) => enrichment.suggestions(tenantSlug, caseId, signal), signal)
            : Promise.reject(new Error('the case could not be checked: the database is unavailable')),
        {
          ttl: tuning.freshMs,
          grace: tuning.staleMs,
          graceBackoff: tuning.halfOpenAfterMs,
        },
      ),
    );
    if (entry === undefined) {
      return { version: envelopeVersion, case_id: caseId, data: [], stale: false, partial: true };
    }
    // Past its fresh time, the answer is one the cache kept for grace while the upstream failed.
    const stale = isStale(entry, clock.now());
    return { version: envelopeVersion, case_id: caseId, data: entry.value, stale, partial: false };
  });
};
