// A RateLimitStore on Redis (ioredis): one EVALSHA per decision on one key, through ioredis `defineCommand`,
// which sends EVAL the first time on a connection and again after NOSCRIPT (a restarted or flushed server).

import type { Cluster, Redis } from 'ioredis';
import { withDefaults } from '../../shared/options.ts';
import type { GcraParams, StoreDecision } from '../gcra.ts';
import type { RateLimitStore } from '../store.ts';
import { gcraScript } from './gcra-script.ts';

/** Options of `redisRateLimitStore`. */
export interface RedisRateLimitStoreOptions {
  /** Prepended to every bucket key. @default 'hr:rl:' */
  prefix?: string;
  /**
   * Whose clock GCRA uses. 'caller' (the default) uses the `now` each instance passes: decisions are
   * deterministic under a FakeClock and agree exactly with the memory store (which the insurance fallback
   * relies on). Its cost is clock skew: an instance whose clock runs δ ms ahead may grant about δ / interval
   * extra requests per key, and one running behind is stricter; with NTP (δ of a few ms) this is far below
   * one cell of any realistic policy. 'server' uses Redis TIME, immune to skew between instances, at the
   * price of test determinism and of agreement with the local insurance decisions. Choose 'server' when
   * your hosts' clocks cannot be trusted.
   * @default 'caller'
   */
  time?: 'caller' | 'server';
}

const defaultOptions: Required<RedisRateLimitStoreOptions> = { prefix: 'hr:rl:', time: 'caller' };

// The command the store defines on the client; a name unlikely to clash with the caller's own scripts.
const command = 'headroomGcra';

type GcraReply = [remaining: number, resetMs: number, retryAfterMs: number];

interface GcraCommander {
  headroomGcra(key: string, params: string, now: number | 'T'): Promise<GcraReply>;
}

/**
 * A Redis-backed `RateLimitStore`.
 *
 * @example
 * const store = new RedisRateLimitStore(redis, { prefix: 'casebook:rl:' });
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #client: GcraCommander;
  readonly #prefix: string;
  readonly #serverTime: boolean;
  // 'interval burst 1' per params object: most requests cost 1, so their argument is built once per policy.
  readonly #unitCost = new WeakMap<GcraParams, string>();

  constructor(client: Redis | Cluster, options: RedisRateLimitStoreOptions = {}) {
    const o = withDefaults(defaultOptions, options);
    client.defineCommand(command, { numberOfKeys: 1, lua: gcraScript });
    this.#client = client as unknown as GcraCommander;
    this.#prefix = o.prefix;
    this.#serverTime = o.time === 'server';
  }

  async decide(key: string, params: GcraParams, now: number, cost: number): Promise<StoreDecision> {
    let packed = cost === 1 ? this.#unitCost.get(params) : undefined;
    if (packed === undefined) {
      packed = `${params.emissionIntervalMs} ${params.burst} ${cost}`;
      if (cost === 1) this.#unitCost.set(params, packed);
    }
    const [remaining, resetMs, retryAfterMs] = await this.#client.headroomGcra(
      this.#prefix + key,
      packed,
      this.#serverTime ? 'T' : now,
    );
    return { allowed: retryAfterMs === 0, remaining, resetMs, retryAfterMs };
  }
}

/**
 * Creates a Redis store from a client the caller owns (and closes). Recommended client options, so a dead or
 * slow Redis fails fast instead of queueing: `enableOfflineQueue: false`, `maxRetriesPerRequest: 0` or `1`,
 * and `commandTimeout` a little above the limiter's `storeTimeout`. The limiter bounds the wait by itself
 * either way; these options keep abandoned commands from piling up inside ioredis.
 *
 * @example
 * import { Redis } from 'ioredis';
 * const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 100 });
 * const limiter = createRateLimiter({ store: redisRateLimitStore(redis), policies });
 */
export function redisRateLimitStore(
  client: Redis | Cluster,
  options: RedisRateLimitStoreOptions = {},
): RedisRateLimitStore {
  return new RedisRateLimitStore(client, options);
}
