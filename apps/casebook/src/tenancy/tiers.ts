// What a tenant's tier buys: its rate limit, page sizes and export concurrency. These are the defaults of
// `tiers` in casebook.yaml (settings.ts), which is read at use.

import type { RateLimitPolicy } from '@headroom/core/ratelimit';
import type { SettingsSource } from '../settings.ts';

export type Tier = 'free' | 'pro' | 'enterprise';

/** Sustained rate and burst of every authenticated request, per tenant, by tier. */
export const tierQuotas: Readonly<Record<Tier, RateLimitPolicy>> = {
  free: { name: 'free', limit: 600, window: 60_000, burst: 20 },
  pro: { name: 'pro', limit: 3_000, window: 60_000, burst: 100 },
  enterprise: { name: 'enterprise', limit: 30_000, window: 60_000, burst: 500 },
};

/** Largest page a tenant of each tier may ask for by default; larger `limit`s are lowered to it. */
export const maxPageSize: Readonly<Record<Tier, number>> = { free: 20, pro: 50, enterprise: 100 };

/** The page size to use: the requested one (default 20), capped by the tier's `pageCap` in force. */
export function pageSize(settings: SettingsSource, tier: Tier, requested: number | undefined): number {
  return Math.min(requested ?? 20, settings.get().tiers[tier].pageCap);
}

/** Exports of one tenant that run at once (the export queue's per-tenant limit); the rest wait their turn. */
export const exportConcurrency: Readonly<Record<Tier, number>> = { free: 1, pro: 2, enterprise: 4 };
