// Standard Webhooks v1 signatures: HMAC-SHA256 over `<id>.<timestamp>.<body>` with a `whsec_` secret (its
// base64 part is the key), sent as `v1,<base64>`; during a secret rotation, one signature per secret, space
// separated, so a receiver holding either secret verifies.

import { createHmac, randomBytes } from 'node:crypto';

const prefix = 'whsec_';

/**
 * A new endpoint secret: `whsec_` and 24 random bytes in base64 (the spec asks for 24 to 64).
 *
 * @example
 * const secret = generateWebhookSecret(); // 'whsec_…'
 */
export function generateWebhookSecret(): string {
  return `${prefix}${randomBytes(24).toString('base64')}`;
}

function key(secret: string): Buffer {
  if (!secret.startsWith(prefix)) throw new TypeError('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(prefix.length), 'base64');
}

/** What a delivery is signed over, and with which secrets (the current first, a rotating-out one after it). */
export interface SignInput {
  /** `webhook-id`: the message's id, the same on every retry. */
  id: string;
  /** `webhook-timestamp`: seconds since the epoch, of this attempt. */
  timestamp: number;
  /** The exact bytes sent as the body. */
  body: string;
  secrets: readonly string[];
}

/**
 * The three Standard Webhooks headers of one attempt.
 *
 * @example
 * const headers = webhookHeaders({ id: 'msg_1', timestamp: 1_733_000_000, body, secrets: [secret] });
 * // { 'webhook-id': 'msg_1', 'webhook-timestamp': '1733000000', 'webhook-signature': 'v1,…' }
 */
export function webhookHeaders(
  input: SignInput,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  if (!/^[^\s.]+$/.test(input.id)) throw new TypeError('a webhook id has no white space and no dot');
  if (!Number.isInteger(input.timestamp) || input.timestamp < 0)
    throw new TypeError('a webhook timestamp is whole seconds');
  if (input.secrets.length === 0) throw new TypeError('a webhook is signed with at least one secret');
  const content = `${input.id}.${input.timestamp}.${input.body}`;
  const signatures = input.secrets.map(
    (secret) => `v1,${createHmac('sha256', key(secret)).update(content).digest('base64')}`,
  );
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestamp),
    'webhook-signature': signatures.join(' '),
  };
}
