// An in-process idempotency store: one instance, or tests. Records expire by time and are swept on write.

import type { BeginOutcome, BeginRequest, IdempotencyStore, StoredResponse } from './store.ts';

interface MemoryRecord {
  fingerprint: string;
  token: string | undefined;
  lockedUntil: number;
  response: StoredResponse | undefined;
  expiresAt: number;
}

/**
 * An `IdempotencyStore` in a Map.
 *
 * @example
 * const store = new MemoryIdempotencyStore();
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<string, MemoryRecord>();
  #begun = 0;

  async begin({ key, fingerprint, token, now, lockTtl }: BeginRequest): Promise<BeginOutcome> {
    // Expired records go on their own, amortised over writes: no timer, no clock of the store's own.
    if ((++this.#begun & 1023) === 0) await this.sweep(now);
    const record = this.#records.get(key);
    if (record && record.expiresAt > now) {
      if (record.fingerprint !== fingerprint) return { outcome: 'mismatch' };
      if (record.response) return { outcome: 'completed', response: record.response };
      if (record.lockedUntil > now) return { outcome: 'in-flight', retryAfterMs: record.lockedUntil - now };
    }
    // Absent, expired, or a lock that lapsed (its request died): this request takes the key.
    this.#records.set(key, {
      fingerprint,
      token,
      lockedUntil: now + lockTtl,
      response: undefined,
      expiresAt: now + lockTtl,
    });
    return { outcome: 'acquired', token };
  }

  async complete(
    key: string,
    token: string,
    response: StoredResponse,
    now: number,
    retention: number,
  ): Promise<boolean> {
    const record = this.#records.get(key);
    if (!record || record.token !== token || record.response) return false;
    record.response = response;
    record.token = undefined;
    record.expiresAt = now + retention;
    return true;
  }

  async release(key: string, token: string): Promise<void> {
    const record = this.#records.get(key);
    if (record && record.token === token && !record.response) this.#records.delete(key);
  }

  async sweep(now: number): Promise<number> {
    let swept = 0;
    for (const [key, record] of this.#records) {
      if (record.expiresAt <= now) {
        this.#records.delete(key);
        swept++;
      }
    }
    return swept;
  }
}

/**
 * Creates an in-process idempotency store.
 *
 * @example
 * const idempotency = createIdempotency({ store: memoryIdempotencyStore() });
 */
export function memoryIdempotencyStore(): MemoryIdempotencyStore {
  return new MemoryIdempotencyStore();
}
