// What a tenant's tier buys: page sizes (rate limits by tier live in protection/limits.ts).

export type Tier = 'free' | 'pro' | 'enterprise';

/** Largest page a tenant of each tier may ask for; larger `limit`s are lowered to it. */
export const maxPageSize: Readonly<Record<Tier, number>> = { free: 20, pro: 50, enterprise: 100 };

/** The page size to use: the requested one (default 20), capped by the tier. */
export function pageSize(tier: Tier, requested: number | undefined): number {
  return Math.min(requested ?? 20, maxPageSize[tier]);
}

/** Exports of one tenant that run at once (the export queue's per-tenant limit); the rest wait their turn. */
export const exportConcurrency: Readonly<Record<Tier, number>> = { free: 1, pro: 2, enterprise: 4 };
