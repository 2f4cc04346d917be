// Casebook's feature flags: what costs most behind a request, each of which the SLO degrader may turn off while
// search is over its budget (headroom.yaml's `degrade:`), and an operator may set by hand (/admin/flags).

import type { Clock } from '@headroom/core/clock';
import { createFlags, type FlagContext, type FlagDefinition, type Flags } from '@headroom/core/flags';
import type { Principal } from './auth/principal.ts';

/** The flags and their defaults. */
export const casebookFlagDefinitions: Record<string, FlagDefinition> = {
  expand_depth_3: {
    description: 'case detail expands owner.team.org (off: served at depth 2, with x-headroom-degraded)',
    default: true,
  },
  suggestions: {
    description: 'suggestions ask the enrichment upstream (off: an empty answer flagged partial, at once)',
    default: true,
  },
  exports: {
    description: 'new exports are accepted (off: 503 HR_FEATURE_DISABLED with Retry-After)',
    default: true,
  },
  server_timing: {
    description:
      'answers carry Server-Timing (phase timings) for every caller, not only operators and admins',
    default: false,
  },
};

/**
 * Casebook's flags, on `clock`.
 *
 * @example
 * const flags = casebookFlags(clock);
 * if (!flags.enabled('suggestions', flagContext(request.principal))) return partialAnswer;
 */
export function casebookFlags(clock: Clock): Flags {
  return createFlags({ definitions: casebookFlagDefinitions, clock });
}

/** Who asks, as flags see it: the tenant and its tier. */
export function flagContext(principal: Pick<Principal, 'tenantId' | 'tier'>): FlagContext {
  return { tenant: String(principal.tenantId), tier: principal.tier };
}
