// The session cookie of the operations page: read from the Cookie header, written with the attributes that keep
// it to the page (Path), from scripts (HttpOnly), from other sites (SameSite=Strict) and, over https, from http.

import type { FastifyReply, FastifyRequest } from 'fastify';

/** The cookie's name. */
export const sessionCookie = 'headroom_ops';

/**
 * Every value the request sends for the session cookie (a browser may send several: one per matching path or
 * domain, the most specific path first); each must prove itself by its signature.
 *
 * @example
 * sessionCookies(request).map((value) => sessions.read(value));
 */
export function sessionCookies(request: FastifyRequest): string[] {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return [];
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals === -1 || pair.slice(0, equals).trim() !== sessionCookie) continue;
    values.push(pair.slice(equals + 1).trim());
    if (values.length === 4) break;
  }
  return values;
}

/**
 * Sets the cookie to `value` for `maxAge` ms under `path`; `Secure` when the request came over https.
 *
 * @example
 * setSessionCookie(request, reply, value, '/_headroom', 8 * 3_600_000);
 */
export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  value: string,
  path: string,
  maxAge: number,
): void {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  const seconds = Math.max(0, Math.floor(maxAge / 1000));
  reply.header(
    'set-cookie',
    `${sessionCookie}=${value}; Path=${path}; Max-Age=${seconds}; HttpOnly; SameSite=Strict${secure}`,
  );
}
