// How casebook's readable answers may be cached by HTTP clients: privately, revalidated with the ETag every
// time (a tenant's data is never public; Vary keeps one user's answers from another's).

import type { HttpCacheOptions } from '@headroom/fastify';

export const tenantData: HttpCacheOptions = { scope: 'private', tenantScoped: true, vary: ['x-tenant-id'] };
