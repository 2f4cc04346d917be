// Who is calling: the authenticated user and the tenant they belong to. The tenant comes from here only.

import type { Tier } from '../tenancy/tiers.ts';

export interface Principal {
  tenantId: number;
  tenantSlug: string;
  tier: Tier;
  userId: number;
  role: 'admin' | 'analyst';
  /** How the caller authenticated, and the id of that session or API key (for revocation). */
  via: 'session' | 'api_key';
  credentialId: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authenticate hook on every authenticated route. */
    principal: Principal;
  }
}
