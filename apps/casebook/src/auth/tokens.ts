// Bearer secrets: session tokens from login and long-lived API keys. Both are 256-bit random strings of
// which only a SHA-256 is stored: a leaked table holds nothing that authenticates.

import { hash, randomBytes } from 'node:crypto';

export type SecretKind = 'session' | 'api_key';

const prefixes: Record<SecretKind, string> = { session: 'hrs_', api_key: 'hrk_' };

/** A new secret of the given kind, such as `hrs_<43 base64url chars>`. */
export function newSecret(kind: SecretKind): string {
  return prefixes[kind] + randomBytes(32).toString('base64url');
}

/** Which kind a presented secret claims to be, or undefined when it has no known prefix. */
export function secretKind(secret: string): SecretKind | undefined {
  if (secret.startsWith(prefixes.session)) return 'session';
  if (secret.startsWith(prefixes.api_key)) return 'api_key';
  return undefined;
}

/** The stored form of a secret. High-entropy secrets need a fast hash, not a password hash. */
export function hashSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}
