// A RateLimitStore on Redis (ioredis): the decisions callers ask for in one turn of the microtask queue go to
// Redis as one EVALSHA (one round trip, one command for Redis to parse and dispatch, instead of one each),
// through ioredis `defineCommand`, which sends EVAL the first time on a connection and again after NOSCRIPT.

import type { Cluster, Redis } from 'ioredis';
import { checkNumber, withDefaults } from '../../shared/options.ts';
import type { GcraParams, StoreDecision } from '../gcra.ts';
import type { RateLimitStore } from '../store.ts';
import { gcraBatchScript, gcraScript } from './gcra-script.ts';

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
  /**
   * Most decisions sent in one call. Decisions asked for in the same turn of the microtask queue (the
   * callers a burst of answers woke, the requests one socket read brought) share one call; a larger batch
   * holds Redis longer. 1 sends each decision alone. A Redis Cluster client always does: the keys of one
   * script must share a slot. @default 64
   */
  maxBatch?: number;
}

const defaultOptions: Required<RedisRateLimitStoreOptions> = {
  prefix: 'hr:rl:',
  time: 'caller',
  maxBatch: 64,
};

// The commands the store defines on the client; names unlikely to clash with the caller's own scripts.
const command = 'headroomGcra';
const batchCommand = 'headroomGcraBatch';

type GcraReply = [remaining: number, resetMs: number, retryAfterMs: number];

interface GcraCommander {
  headroomGcra(key: string, params: string, now: number | 'T'): Promise<GcraReply>;
  /** numkeys, the keys, then params and now of each key. */
  headroomGcraBatch(...args: (string | number)[]): Promise<number[]>;
}

/** A decision waiting for its batch to be sent. */
interface Waiting {
  key: string;
  packed: string;
  now: number | 'T';
  resolve: (decision: StoreDecision) => void;
  reject: (error: unknown) => void;
}

const toDecision = (remaining: number, resetMs: number, retryAfterMs: number): StoreDecision => ({
  allowed: retryAfterMs === 0,
  remaining,
  resetMs,
  retryAfterMs,
});

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
  readonly #maxBatch: number;
  // 'interval burst 1' per params object: most requests cost 1, so their argument is built once per policy.
  readonly #unitCost = new WeakMap<GcraParams, string>();
  #waiting: Waiting[] = [];

  constructor(client: Redis | Cluster, options: RedisRateLimitStoreOptions = {}) {
    const o = withDefaults(defaultOptions, options);
    const maxBatch = checkNumber('redisRateLimitStore', 'maxBatch', o.maxBatch, { min: 1, integer: true });
    client.defineCommand(command, { numberOfKeys: 1, lua: gcraScript });
    client.defineCommand(batchCommand, { lua: gcraBatchScript });
    this.#client = client as unknown as GcraCommander;
    this.#prefix = o.prefix;
    this.#serverTime = o.time === 'server';
    this.#maxBatch = (client as { isCluster?: boolean }).isCluster === true ? 1 : maxBatch;
  }

  decide(key: string, params: GcraParams, now: number, cost: number): Promise<StoreDecision> {
    let packed = cost === 1 ? this.#unitCost.get(params) : undefined;
    if (packed === undefined) {
      packed = `${params.emissionIntervalMs} ${params.burst} ${cost}`;
      if (cost === 1) this.#unitCost.set(params, packed);
    }
    const at = this.#serverTime ? 'T' : now;
    if (this.#maxBatch === 1) return this.#one(this.#prefix + key, packed, at);
    const { promise, resolve, reject } = Promise.withResolvers<StoreDecision>();
    // The first decision of a turn schedules the send; the callers woken in the same turn join it.
    if (this.#waiting.length === 0) queueMicrotask(this.#send);
    this.#waiting.push({ key: this.#prefix + key, packed, now: at, resolve, reject });
    if (this.#waiting.length >= this.#maxBatch) this.#send();
    return promise;
  }

  #one(key: string, packed: string, now: number | 'T'): Promise<StoreDecision> {
    try {
      return this.#client.headroomGcra(key, packed, now).then((r) => toDecision(r[0], r[1], r[2]));
    } catch (error) {
      return Promise.reject(error); // ioredis throws at once when the stream is not writable
    }
  }

  readonly #send = (): void => {
    const batch = this.#waiting;
    if (batch.length === 0) return; // sent when it filled up
    this.#waiting = [];
    if (batch.length === 1) {
      const [only] = batch as [Waiting];
      this.#one(only.key, only.packed, only.now).then(only.resolve, only.reject);
      return;
    }
    const args: (string | number)[] = new Array(1 + batch.length * 3);
    args[0] = batch.length;
    for (let n = 0; n < batch.length; n++) {
      const w = batch[n]!;
      args[1 + n] = w.key;
      args[1 + batch.length + 2 * n] = w.packed;
      args[2 + batch.length + 2 * n] = w.now;
    }
    let sent: Promise<number[]>;
    try {
      sent = this.#client.headroomGcraBatch(...args);
    } catch (error) {
      sent = Promise.reject(error); // ioredis throws at once when the stream is not writable
    }
    sent.then(
      (reply) => {
        for (let n = 0; n < batch.length; n++) {
          batch[n]!.resolve(toDecision(reply[3 * n]!, reply[3 * n + 1]!, reply[3 * n + 2]!));
        }
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    );
  };
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
