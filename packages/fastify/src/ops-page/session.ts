// Stateless sessions of the operations page: a cookie signed with HMAC-SHA256, so any instance that shares the
// secret accepts it and none keeps a session store. The price: signing out clears the cookie but cannot revoke a
// copy of it before it expires (rotating the secret signs everyone out).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '@headroom/core/clock';

/** A signed-in operator, as the cookie carries it. */
export interface OpsSession {
  /** 128 random bits (base64url): names the session in the flags audit and keys its CSRF token. */
  id: string;
  role: 'operator';
  /** When it was issued and when it ends (ms since the epoch, on the plugin's clock). */
  issuedAt: number;
  expiresAt: number;
}

/** What {@link createSessions} returns. */
export interface Sessions {
  /** A new session and the cookie value that carries it. */
  issue(role: 'operator'): { session: OpsSession; value: string };
  /** The session of a cookie value: undefined unless its signature holds and it has not expired. */
  read(value: string): OpsSession | undefined;
  /** The session's CSRF token: HMAC(secret, 'csrf:' + id), base64url. */
  csrfToken(session: OpsSession): string;
  /** True when `presented` is the session's CSRF token (compared in constant time). */
  csrfMatches(session: OpsSession, presented: unknown): boolean;
}

// A version prefix, so a later format can be told apart (and refused) rather than misread.
const format = 'v1';
// A cookie value is ~150 characters; anything much longer is not ours and is not worth an HMAC.
const maxValueLength = 512;
// Instances' clocks disagree a little: a session issued up to this far in the future is still accepted.
const clockSkew = 60_000;

/**
 * Sessions signed with `secret`, lasting `ttl` ms on `clock`.
 *
 * @example
 * const sessions = createSessions({ secret, clock, ttl: 8 * 3_600_000 });
 * const { value } = sessions.issue('operator');
 * sessions.read(value)?.role; // 'operator'
 */
export function createSessions(options: { secret: string | Buffer; clock: Clock; ttl: number }): Sessions {
  const { secret, clock, ttl } = options;
  const mac = (text: string) => createHmac('sha256', secret).update(text).digest('base64url');
  return {
    issue(role) {
      const issuedAt = clock.now();
      const session: OpsSession = {
        id: randomBytes(16).toString('base64url'),
        role,
        issuedAt,
        expiresAt: issuedAt + ttl,
      };
      const payload = Buffer.from(
        JSON.stringify({ sid: session.id, role, iat: issuedAt, exp: session.expiresAt }),
      ).toString('base64url');
      return { session, value: `${format}.${payload}.${mac(`session:${format}.${payload}`)}` };
    },
    read(value) {
      if (value.length > maxValueLength) return undefined;
      const [version, payload, signature, ...rest] = value.split('.');
      if (version !== format || payload === undefined || signature === undefined || rest.length > 0) {
        return undefined;
      }
      if (!sameText(signature, mac(`session:${format}.${payload}`))) return undefined;
      const session = parsePayload(payload);
      const now = clock.now();
      if (session === undefined || session.expiresAt <= now || session.issuedAt > now + clockSkew) {
        return undefined;
      }
      // A session never outlives this instance's ttl, whatever the instance that issued it was told.
      if (session.expiresAt - session.issuedAt > ttl) return undefined;
      return session;
    },
    csrfToken: (session) => mac(`csrf:${session.id}`),
    csrfMatches: (session, presented) =>
      typeof presented === 'string' &&
      presented.length <= maxValueLength &&
      sameText(presented, mac(`csrf:${session.id}`)),
  };
}

// Constant time over the bytes as sent: a lenient base64 decoding would accept variants of a valid token.
function sameText(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

// The signature held, so the payload is ours; its shape is still checked rather than trusted.
function parsePayload(payload: string): OpsSession | undefined {
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const { sid, role, iat, exp } = (fields ?? {}) as Record<string, unknown>;
  if (typeof sid !== 'string' || role !== 'operator') return undefined;
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp)) {
    return undefined;
  }
  return { id: sid, role, issuedAt: iat, expiresAt: exp };
}
