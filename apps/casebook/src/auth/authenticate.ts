// The onRequest hook of every authenticated route: bearer secret → principal, tenant header cross-check.

import { hash } from 'node:crypto';
import { type Cache, cacheKey, GLOBAL } from '@headroom/core/cache';
import type { Clock } from '@headroom/core/clock';
import type { HeadroomError } from '@headroom/core/errors';
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/database.ts';
import { casebookErrors } from '../errors.ts';
import type { Principal } from './principal.ts';
import { type SecretKind, secretKind } from './tokens.ts';

/** Session token → principal; expired and revoked sessions find nothing. */
export const sessionLookup = `
  SELECT s.id AS credential_id, t.id AS tenant_id, t.slug, t.tier, u.id AS user_id, u.role, s.expires_at
  FROM sessions s
  JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
  JOIN tenants t ON t.id = s.tenant_id
  WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2`;

/** API key → principal; revoked keys find nothing. */
export const apiKeyLookup = `
  SELECT k.id AS credential_id, t.id AS tenant_id, t.slug, t.tier, u.id AS user_id, u.role, NULL AS expires_at
  FROM api_keys k
  JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id
  JOIN tenants t ON t.id = k.tenant_id
  WHERE k.key_hash = $1 AND k.revoked_at IS NULL`;

interface PrincipalRow {
  credential_id: string | number;
  tenant_id: number;
  slug: string;
  tier: Principal['tier'];
  user_id: number;
  role: Principal['role'];
  expires_at: Date | null;
}

function unauthenticated(detail: string): HeadroomError {
  return casebookErrors.create('HR_UNAUTHENTICATED', detail, {
    headers: { 'www-authenticate': 'Bearer realm="casebook"' },
  });
}

interface CachedPrincipal {
  principal: Principal;
  /** Epoch ms after which a session is no longer valid; null for API keys. */
  expiresAt: number | null;
}

/**
 * How long a principal is trusted from the cache. Fresh for 30 s; for 30 s after that, the first request starts
 * one reload and every request meanwhile, that one included, is answered with the known principal
 * (stale-while-revalidate): a busy token's requests do not all wait on PostgreSQL every 30 s. Past that, while
 * PostgreSQL fails or stalls (250 ms soft timeout), the known principal stands in for up to 5 minutes more
 * (grace). Neither serves an entry whose tag was invalidated. The bound: a
 * revocation made before the outage removed the entry on every instance (its tag), and a session's own expiry
 * is checked on every request, so grace keeps only credentials that were valid when the database was last
 * reachable, for an outage short enough that nothing could have been revoked through casebook anyway (a
 * revocation is a database write). Past 5 minutes a request needs the database again.
 */
const principalCaching = (id: string) => ({
  ttl: 30_000,
  staleWhileRevalidate: 30_000,
  grace: 5 * 60_000,
  graceBackoff: 2_000,
  timeout: 250,
  tags: [credentialTag(id)],
});

// Keyed by the secret's SHA-256 (base64url), never by the secret itself.
const credentialKey = (id: string) => cacheKey(GLOBAL, 'principal', id);
const credentialTag = (id: string) => `credential:${id}`;

/**
 * Forgets a revoked credential on every instance (the cached principal of its secret's hash).
 *
 * @example
 * await forgetCredential(cache, tokenHash);
 */
export function forgetCredential(cache: Cache, secretHash: Buffer): Promise<void> {
  return cache.invalidateTags(GLOBAL, [credentialTag(secretHash.toString('base64url'))]);
}

/** The authenticate hook; callback style, so a request whose principal is cached makes no promise. */
export interface AuthenticateHook {
  (request: FastifyRequest, reply: unknown, done: (error?: Error) => void): void;
  /** The same check as a promise, for code that awaits it (the admin API's authorize). */
  check(request: FastifyRequest): Promise<void>;
}

/**
 * Builds the hook that authenticates a request and sets `request.principal`.
 *
 * @example
 * app.addHook('onRequest', authenticate({ db, clock }));
 */
export function authenticate(deps: { db: Queryable; clock: Clock; cache?: Cache }): AuthenticateHook {
  const { db, clock, cache } = deps;

  async function load(kind: SecretKind, id: string): Promise<CachedPrincipal | undefined> {
    const hashed = Buffer.from(id, 'base64url');
    const lookup =
      kind === 'session'
        ? { name: 'auth-session', text: sessionLookup, values: [hashed, new Date(clock.now())] }
        : { name: 'auth-api-key', text: apiKeyLookup, values: [hashed] };
    const row = (await db.query<PrincipalRow>(lookup)).rows[0];
    if (!row) return undefined;
    return {
      principal: {
        tenantId: row.tenant_id,
        tenantSlug: row.slug,
        tier: row.tier,
        userId: row.user_id,
        role: row.role,
        via: kind,
        credentialId: Number(row.credential_id),
      },
      expiresAt: row.expires_at === null ? null : new Date(row.expires_at).getTime(),
    };
  }

  // The principal of `request`'s bearer secret: a CachedPrincipal when known now (from L1), else a promise.
  function lookup(
    request: FastifyRequest,
  ): CachedPrincipal | undefined | Promise<CachedPrincipal | undefined> {
    const header = request.headers.authorization;
    const match = header ? /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header) : null;
    if (!match) throw unauthenticated('send Authorization: Bearer <token or API key>');
    const secret = match[1]!;
    const kind = secretKind(secret);
    if (!kind) throw unauthenticated('the bearer token is not a casebook token or API key');
    const id = hash('sha256', secret, 'base64url');
    if (!cache) return load(kind, id);
    // Cached by the secret's hash (the tenant is what the lookup finds out, so the scope is global);
    // revocation invalidates the entry's tag on every instance, and expiry is checked on every request.
    const key = credentialKey(id);
    return (
      cache.peek<CachedPrincipal>(key) ?? cache.getOrSet(key, () => load(kind, id), principalCaching(id))
    );
  }

  function admit(request: FastifyRequest, found: CachedPrincipal | undefined): void {
    if (!found || (found.expiresAt !== null && found.expiresAt <= clock.now())) {
      throw unauthenticated('the token or API key is unknown, expired or revoked');
    }
    const { principal } = found;
    const claimed = request.headers['x-tenant-id'];
    if (claimed !== undefined && claimed !== principal.tenantSlug && claimed !== String(principal.tenantId)) {
      throw casebookErrors.create(
        'HR_TENANT_MISMATCH',
        'x-tenant-id names a tenant other than the one you belong to',
        { context: { field: 'headers.x-tenant-id' } },
      );
    }
    request.principal = principal;
  }

  const hook = function authenticateRequest(request, _reply, done) {
    let found: ReturnType<typeof lookup>;
    try {
      found = lookup(request);
      if (!(found instanceof Promise)) {
        admit(request, found);
        done();
        return;
      }
    } catch (error) {
      done(error as Error);
      return;
    }
    found.then(
      (value) => {
        try {
          admit(request, value);
        } catch (error) {
          done(error as Error);
          return;
        }
        done();
      },
      (error: Error) => done(error),
    );
  } as AuthenticateHook;
  hook.check = async (request) => admit(request, await lookup(request));
  return hook;
}

/** Throws 403 unless the caller is an admin of their tenant. */
export function requireAdmin(request: FastifyRequest): void {
  if (request.principal.role !== 'admin') {
    throw casebookErrors.create('HR_FORBIDDEN', 'this needs the admin role');
  }
}
