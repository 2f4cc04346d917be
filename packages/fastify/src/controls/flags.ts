// The operator's levers on the app's feature flags: an override (for every tenant or one, until a time) and
// its removal, each recorded in the flags' audit with who and why. Shared by the admin API and the operations
// page.

import { commonErrors } from '@headroom/core/errors';
import { fastifyErrors } from '../errors.ts';
import type { FlagRegistry } from '../flag-registry.ts';
import { notFound } from './not-found.ts';

/** A change to a flag as a request asks for it (`until`: an RFC 3339 time). */
export interface FlagOverride {
  value: boolean | string;
  tenant?: string;
  until?: string;
  reason: string;
}

/** What {@link flagControls} returns; each answers with the flag as it stands afterwards. */
export interface FlagControls {
  override(name: string, change: FlagOverride, by: string): FlagState;
  clear(
    name: string,
    change: { tenant?: string; reason: string },
    by: string,
  ): FlagState & { cleared: boolean };
}

type FlagState = ReturnType<NonNullable<FlagRegistry['flags']>['snapshot']>[number];

/**
 * The controls of the app's flags. No flags, or no flag of that name: 404 HR_NOT_FOUND; a value the flag cannot
 * take (a string for an on/off flag): 400 HR_VALIDATION on `body.value`.
 *
 * @example
 * flagControls(app.headroom.flags).override('suggestions', { value: false, reason: 'incident' }, 'operator');
 */
export function flagControls(registry: FlagRegistry): FlagControls {
  const known = (name: string) => {
    const flags = registry.flags;
    if (!flags) throw notFound('feature flags', 'flags', 'flags');
    const state = () => flags.snapshot().find((f) => f.flag === name);
    if (state() === undefined) throw notFound('feature flag', 'flag', name);
    return { flags, state: () => state()! };
  };
  return {
    override(name, change, by) {
      const { flags, state } = known(name);
      try {
        flags.override(name, {
          value: change.value,
          ...(change.tenant === undefined ? {} : { tenant: change.tenant }),
          ...(change.until === undefined ? {} : { until: Date.parse(change.until) }),
          by,
          reason: change.reason,
        });
      } catch (error) {
        if (!commonErrors.is(error, 'HR_INVALID_OPTION')) throw error;
        throw fastifyErrors.create('HR_VALIDATION', `body.value is not a value of flag ${name}`, {
          context: { field: 'body.value' },
        });
      }
      return state();
    },
    clear(name, change, by) {
      const { flags, state } = known(name);
      const cleared = flags.clearOverride(name, {
        ...(change.tenant === undefined ? {} : { tenant: change.tenant }),
        by,
        reason: change.reason,
      });
      return { ...state(), cleared };
    },
  };
}
