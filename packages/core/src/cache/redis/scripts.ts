// Lua run inside Redis where a check and a write must be one step: fenced writes, tag bumps, lease release.
// Registered with ioredis `defineCommand`, which sends EVALSHA and falls back to EVAL on NOSCRIPT (a restarted
// Redis has forgotten every script), once per connection.

import type { Redis } from 'ioredis';

/** KEYS: entry, lease, tag version keys... ARGV: lease token or '', envelope, gc ms, recorded versions... */
const setEntry = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'fenced' end
for i = 3, #KEYS do
  if tonumber(redis.call('GET', KEYS[i]) or '0') ~= tonumber(ARGV[i + 1]) then return 'outdated' end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 'stored'
`;

/** KEYS: the sequence, tag version keys... Returns the new version of each tag. */
const bumpTags = `
local out = {}
for i = 2, #KEYS do
  local v = redis.call('INCR', KEYS[1])
  redis.call('SET', KEYS[i], v)
  out[i - 1] = v
end
return out
`;

/** KEYS: lease. ARGV: token. */
const releaseLease = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** The commands `defineScripts` adds to a client. */
export interface CacheScripts {
  headroomCacheSet(
    numKeys: number,
    ...args: (string | Buffer | number)[]
  ): Promise<'stored' | 'fenced' | 'outdated'>;
  headroomCacheBumpTags(numKeys: number, ...keys: string[]): Promise<number[]>;
  headroomCacheRelease(lease: string, token: string): Promise<number>;
}

/**
 * Adds the cache's scripts to `client` (idempotent) and returns it typed with them.
 *
 * @example
 * const scripts = defineScripts(client);
 * await scripts.headroomCacheRelease(leaseKey, token);
 */
export function defineScripts(client: Redis): Redis & CacheScripts {
  const typed = client as Redis & Partial<CacheScripts>;
  if (typeof typed.headroomCacheSet !== 'function') {
    client.defineCommand('headroomCacheSet', { lua: setEntry });
    client.defineCommand('headroomCacheBumpTags', { lua: bumpTags });
    client.defineCommand('headroomCacheRelease', { lua: releaseLease, numberOfKeys: 1 });
  }
  return client as Redis & CacheScripts;
}
