// Login, logout, who-am-I, and API keys (admin only).

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Cache } from '@headroom/core/cache';
import type { Clock } from '@headroom/core/clock';
import type { RateLimitCheck } from '@headroom/fastify';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../db/database.ts';
import { casebookErrors } from '../errors.ts';
import { envelopeVersion } from '../http/envelope.ts';
import { IdParams } from '../http/params.ts';
import { forgetCredential, requireAdmin } from './authenticate.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { verifyPassword } from './passwords.ts';
import { hashSecret, newSecret } from './tokens.ts';

export interface AuthRoutesOptions {
  db: Database;
  clock: Clock;
  /** Failed-login buckets of a login attempt (client, account from client); none = no failure throttle. */
  loginFailures?: {
    throttle: LoginThrottle;
    checks: (request: FastifyRequest, email: string) => readonly RateLimitCheck[];
  };
  /** Session lifetime. @default 12 hours */
  sessionTtlMs?: number;
  /** Where authenticated principals are cached; revocations forget them there. */
  cache?: Cache;
}

const Email = Type.String({ format: 'email', maxLength: 254 });

/** What login answers. `expiresAt` is the same instant as `expires_at`, kept for one release (v1 is snake_case). */
export const LoginAnswer = Type.Object(
  {
    token: Type.String(),
    expires_at: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({
      format: 'date-time',
      deprecated: true,
      description: 'Deprecated: use expires_at; removed in the next release.',
    }),
    tenant: Type.Object({ slug: Type.String(), tier: Type.String() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

/**
 * The user whose email (lower-cased) and password these are, with their tenant's slug and tier; undefined when
 * either is wrong (the password is hashed either way, so the answer takes as long).
 *
 * @example
 * const user = await userByLogin(db, 'ana@acme.test', password);
 */
export async function userByLogin(db: Database, email: string, password: string) {
  const user = (
    await db.query<{
      id: number;
      tenant_id: number;
      password_hash: string | null;
      slug: string;
      tier: string;
    }>(
      // The text as the login route first wrote it: its whitespace is part of the statement's catalogued name.
      `SELECT u.id, u.tenant_id, u.password_hash, t.slug, t.tier
           FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = $1`,
      [email],
    )
  ).rows[0];
  return (await verifyPassword(password, user?.password_hash)) && user ? user : undefined;
}

/** Public routes: login. */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { db, clock } = options;
  const ttl = options.sessionTtlMs ?? 12 * 60 * 60 * 1000;

  app.post(
    '/v1/auth/login',
    {
      schema: {
        body: Type.Object(
          { email: Email, password: Type.String({ minLength: 1, maxLength: 1024 }) },
          { additionalProperties: false },
        ),
        response: { 200: LoginAnswer },
      },
    },
    async (request, reply) => {
      const email = request.body.email.toLowerCase();
      const failures = options.loginFailures;
      const buckets = failures?.checks(request, email) ?? [];
      await failures?.throttle.admit(buckets);
      const user = await userByLogin(db, email, request.body.password);
      if (!user) {
        await failures?.throttle.failed(buckets);
        throw casebookErrors.create('HR_INVALID_CREDENTIALS', 'email or password is wrong');
      }
      const token = newSecret('session');
      const now = clock.now();
      const expiresAt = new Date(now + ttl);
      await db.query(
        `INSERT INTO sessions (token_hash, tenant_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
        [hashSecret(token), user.tenant_id, user.id, new Date(now), expiresAt],
      );
      reply.header('cache-control', 'no-store');
      const expires = expiresAt.toISOString();
      return {
        token,
        expires_at: expires,
        expiresAt: expires,
        tenant: { slug: user.slug, tier: user.tier },
      };
    },
  );
};

/** Routes for an authenticated caller: logout, who-am-I, API keys. Register inside the authenticated scope. */
export const accountRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (authed, options) => {
  const { db, clock, cache } = options;
  authed.post('/v1/auth/logout', async (request, reply) => {
    const { principal } = request;
    const [table, hashColumn] =
      principal.via === 'session' ? ['sessions', 'token_hash'] : ['api_keys', 'key_hash'];
    const revoked = await db.query<{ hash: Buffer }>(
      `UPDATE ${table} SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING ${hashColumn} AS hash`,
      [principal.tenantId, principal.credentialId, new Date(clock.now())],
    );
    for (const row of revoked.rows) if (cache) await forgetCredential(cache, row.hash);
    return reply.code(204).send();
  });

  authed.get('/v1/me', async (request) => {
    const { principal } = request;
    const row = (
      await db.query<{ id: number; email: string; name: string; role: string }>(
        'SELECT id, email, name, role FROM users WHERE tenant_id = $1 AND id = $2',
        [principal.tenantId, principal.userId],
      )
    ).rows[0];
    return {
      user: row,
      tenant: { id: principal.tenantId, slug: principal.tenantSlug, tier: principal.tier },
    };
  });

  authed.post(
    '/v1/api-keys',
    {
      schema: {
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      requireAdmin(request);
      const key = newSecret('api_key');
      const createdAt = new Date(clock.now());
      const row = (
        await db.query<{ id: number }>(
          `INSERT INTO api_keys (tenant_id, user_id, name, prefix, key_hash, created_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [
            request.principal.tenantId,
            request.principal.userId,
            request.body.name,
            key.slice(0, 8),
            hashSecret(key),
            createdAt,
          ],
        )
      ).rows[0]!;
      reply.code(201).header('cache-control', 'no-store');
      return {
        id: row.id,
        name: request.body.name,
        key,
        prefix: key.slice(0, 8),
        created_at: createdAt.toISOString(),
      };
    },
  );

  authed.get('/v1/api-keys', async (request) => {
    requireAdmin(request);
    const rows = await db.query(
      `SELECT id, name, prefix, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY id`,
      [request.principal.tenantId],
    );
    return { version: envelopeVersion, data: rows.rows };
  });

  authed.delete('/v1/api-keys/:id', { schema: { params: IdParams } }, async (request, reply) => {
    requireAdmin(request);
    const result = await db.query<{ hash: Buffer }>(
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3) WHERE tenant_id = $1 AND id = $2 RETURNING key_hash AS hash',
      [request.principal.tenantId, request.params.id, new Date(clock.now())],
    );
    if (result.rowCount === 0) {
      throw casebookErrors.create('HR_NOT_FOUND', `API key ${request.params.id} not found`);
    }
    for (const row of result.rows) if (cache) await forgetCredential(cache, row.hash);
    return reply.code(204).send();
  });
};
