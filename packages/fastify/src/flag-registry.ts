// The app's feature flags, as /metrics and the admin API see them: `app.headroom.flags.add(flags)`. Operators
// read them with their recent changes and set or clear an override; each change is recorded with who and why.

import type { Flags } from '@headroom/core/flags';
import { Gauge, type Registry } from 'prom-client';

/**
 * What `app.headroom.flags` offers.
 *
 * @example
 * app.headroom.flags.add(createFlags({ definitions }));
 */
export interface FlagRegistry {
  /** Reports the flags: `headroom_feature_flag{flag}` and the admin routes `/admin/flags`. Returns them. */
  add(flags: Flags): Flags;
  readonly flags: Flags | undefined;
}

/**
 * Registers `headroom_feature_flag{flag}`: 1 on, 0 off (a variant flag: the index of its variant, from 0),
 * the value for no particular tenant.
 *
 * @example
 * const flags = createFlagRegistry(registry);
 */
export function createFlagRegistry(registry: Registry): FlagRegistry {
  let tracked: Flags | undefined;
  new Gauge({
    name: 'headroom_feature_flag',
    help: 'Each feature flag for no particular tenant: 1 on, 0 off (variant flags: the variant by name, 1).',
    labelNames: ['flag', 'variant'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const f of tracked?.snapshot() ?? []) {
        if (typeof f.value === 'boolean') this.set({ flag: f.flag, variant: '' }, f.value ? 1 : 0);
        else this.set({ flag: f.flag, variant: f.value }, 1);
      }
    },
  });
  return {
    get flags() {
      return tracked;
    },
    add(flags) {
      tracked = flags;
      return flags;
    },
  };
}
