// The Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header-07): a structured-field string.

import { idempotencyErrors } from './errors.ts';

/** The longest key accepted, in characters (the draft leaves it to the resource; Stripe takes 255). */
export const maxKeyLength = 255;

/**
 * The key an `Idempotency-Key` header carries: undefined when the header is absent; throws
 * HR_IDEMPOTENCY_KEY_INVALID for anything but a structured-field string (RFC 8941 §3.3.3: double quotes,
 * printable ASCII, `\"` and `\\` escapes) of 1 to 255 characters. A bare value without quotes, which many
 * clients send, is read as the same key when it is printable ASCII without spaces, quotes or backslashes.
 *
 * @example
 * parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"'); // '8e03978e-40d5-43e8-bc93-6894a57f9324'
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw invalid('the header appears more than once');
  const value = header.trim();
  let key: string;
  if (value.startsWith('"')) {
    key = '';
    let i = 1;
    for (; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        const next = value[++i];
        if (next !== '"' && next !== '\\') throw invalid('a backslash escapes only " and \\');
        key += next;
      } else if (c < 0x20 || c > 0x7e) {
        throw invalid('the key holds a character that is not printable ASCII');
      } else key += value[i];
    }
    if (i !== value.length - 1) throw invalid('the key must be one quoted string');
  } else {
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(value)) throw invalid('the key must be a quoted string ("...")');
    key = value;
  }
  if (key.length === 0) throw invalid('the key is empty');
  if (key.length > maxKeyLength) throw invalid(`the key is longer than ${maxKeyLength} characters`);
  return key;
}

function invalid(why: string) {
  return idempotencyErrors.create('HR_IDEMPOTENCY_KEY_INVALID', `Idempotency-Key: ${why}`, {
    context: { field: 'headers.idempotency-key' },
  });
}
