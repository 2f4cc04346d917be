// An idempotency store on Redis (ioredis): one hash per key, each operation one script, so `begin` is atomic
// across every instance. Redis expires the records itself; the record's own expiry field keeps the store
// deciding on the caller's clock, as the memory store does.

import type { Cluster, Redis } from 'ioredis';
import type { BeginOutcome, BeginRequest, IdempotencyStore, StoredResponse } from '../store.ts';

/** Options of `redisIdempotencyStore`. */
export interface RedisIdempotencyStoreOptions {
  /** Prepended to every record key. @default 'hr:idem:' */
  prefix?: string;
}

// f fingerprint, t token (while running), l locked until, e expires at, r the answer (JSON) once complete.
const beginScript = `
local now = tonumber(ARGV[3])
local r = redis.call('HMGET', KEYS[1], 'f', 'l', 'e', 'r')
if r[1] and tonumber(r[3]) > now then
  if r[1] ~= ARGV[1] then return {'mismatch'} end
  if r[4] then return {'completed', r[4]} end
  if tonumber(r[2]) > now then return {'in-flight', tostring(tonumber(r[2]) - now)} end
end
local ttl = tonumber(ARGV[4])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'f', ARGV[1], 't', ARGV[2], 'l', string.format('%d', now + ttl), 'e', string.format('%d', now + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
return {'acquired'}
`;

const completeScript = `
local r = redis.call('HMGET', KEYS[1], 't', 'r')
if r[1] ~= ARGV[1] or r[2] then return 0 end
local retention = tonumber(ARGV[4])
redis.call('HDEL', KEYS[1], 't')
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'e', string.format('%d', tonumber(ARGV[3]) + retention))
redis.call('PEXPIRE', KEYS[1], retention)
return 1
`;

const releaseScript = `
local r = redis.call('HMGET', KEYS[1], 't', 'r')
if r[1] == ARGV[1] and not r[2] then redis.call('DEL', KEYS[1]) end
return 0
`;

interface IdempotencyCommander {
  headroomIdemBegin(
    key: string,
    fingerprint: string,
    token: string,
    now: number,
    ttl: number,
  ): Promise<string[]>;
  headroomIdemComplete(
    key: string,
    token: string,
    response: string,
    now: number,
    retention: number,
  ): Promise<number>;
  headroomIdemRelease(key: string, token: string): Promise<number>;
}

/**
 * A Redis-backed `IdempotencyStore`: the records of every instance in one place.
 *
 * @example
 * const store = new RedisIdempotencyStore(redis, { prefix: 'casebook:idem:' });
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #client: IdempotencyCommander;
  readonly #prefix: string;

  constructor(client: Redis | Cluster, options: RedisIdempotencyStoreOptions = {}) {
    client.defineCommand('headroomIdemBegin', { numberOfKeys: 1, lua: beginScript });
    client.defineCommand('headroomIdemComplete', { numberOfKeys: 1, lua: completeScript });
    client.defineCommand('headroomIdemRelease', { numberOfKeys: 1, lua: releaseScript });
    this.#client = client as unknown as IdempotencyCommander;
    this.#prefix = options.prefix ?? 'hr:idem:';
  }

  async begin({ key, fingerprint, token, now, lockTtl }: BeginRequest): Promise<BeginOutcome> {
    const [outcome, detail] = await this.#client.headroomIdemBegin(
      this.#prefix + key,
      fingerprint,
      token,
      Math.floor(now),
      Math.max(1, Math.ceil(lockTtl)),
    );
    if (outcome === 'acquired') return { outcome, token };
    if (outcome === 'in-flight') return { outcome, retryAfterMs: Number(detail) };
    if (outcome === 'completed') return { outcome, response: JSON.parse(detail!) as StoredResponse };
    return { outcome: 'mismatch' };
  }

  async complete(
    key: string,
    token: string,
    response: StoredResponse,
    now: number,
    retention: number,
  ): Promise<boolean> {
    const done = await this.#client.headroomIdemComplete(
      this.#prefix + key,
      token,
      JSON.stringify(response),
      Math.floor(now),
      Math.max(1, Math.ceil(retention)),
    );
    return done === 1;
  }

  async release(key: string, token: string): Promise<void> {
    await this.#client.headroomIdemRelease(this.#prefix + key, token);
  }

  /** Redis expires the records itself: nothing to sweep. */
  async sweep(): Promise<number> {
    return 0;
  }
}

/**
 * Creates a Redis idempotency store from a client the caller owns.
 *
 * @example
 * const store = redisIdempotencyStore(new Redis(url, { enableOfflineQueue: false, commandTimeout: 100 }));
 */
export function redisIdempotencyStore(
  client: Redis | Cluster,
  options: RedisIdempotencyStoreOptions = {},
): RedisIdempotencyStore {
  return new RedisIdempotencyStore(client, options);
}
