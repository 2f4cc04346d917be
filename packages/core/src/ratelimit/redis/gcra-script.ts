// The GCRA Lua scripts: the same arithmetic as ../gcra.ts, in the same order, so Redis and memory agree
// to the last cell. TAT kept with a PX expiry. One script decides one key (Cluster-safe); the batch script
// decides the keys of several callers in one round trip, in the order given.

// decide(key, 'interval burst cost', now or 'T') -> remaining, resetMs, retryAfterMs
const gcraFunction = `
local eps = 0.01

local function cells(ms, interval, burst)
  local n = math.floor((ms + eps) / interval)
  if n < 0 then return 0 end
  if n > burst then return burst end
  return n
end

local function ceilms(ms)
  local n = math.ceil(ms - eps)
  if n < 0 then return 0 end
  return n
end

local function decide(key, packed, nowArg)
  local i, b, c = string.match(packed, '^(%S+) (%S+) (%S+)$')
  local interval = tonumber(i)
  local burst = tonumber(b)
  local cost = tonumber(c)
  local now = tonumber(nowArg)
  if not now then
    local time = redis.call('TIME')
    now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
  end
  local tolerance = burst * interval

  local tat = now
  local stored = redis.call('GET', key)
  if stored then
    local s = tonumber(stored)
    if s > now then tat = s end
  end
  local newtat = tat + cost * interval
  local allowat = newtat - tolerance
  if allowat - now > eps then
    return cells(tolerance - (tat - now), interval, burst), ceilms(tat - now), ceilms(allowat - now)
  end
  local reset = ceilms(newtat - now)
  if cost > 0 then
    local ttl = reset
    if ttl < 1 then ttl = 1 end
    redis.call('SET', key, string.format('%.17g', newtat), 'PX', string.format('%d', ttl))
  end
  return cells(tolerance - (newtat - now), interval, burst), reset, 0
end
`;

/**
 * KEYS[1] the bucket; ARGV[1] 'interval burst cost' (ms, cells, cells: one argument, so a policy's part is
 * serialized once), ARGV[2] now (ms since the epoch) or 'T' to use the server's TIME. Returns
 * { remaining, resetMs, retryAfterMs }; the request was allowed exactly when retryAfterMs is 0 (a limited
 * request always waits at least 1 ms).
 *
 * @example
 * redis.defineCommand('headroomGcra', { numberOfKeys: 1, lua: gcraScript });
 */
export const gcraScript = `${gcraFunction}
local remaining, reset, retry = decide(KEYS[1], ARGV[1], ARGV[2])
return { remaining, reset, retry }
`;

/**
 * The decisions of several callers in one call: KEYS[n] the buckets, ARGV[2n - 1] and ARGV[2n] the packed
 * parameters and the time of the n-th, as for {@link gcraScript}. Returns the three numbers of each decision
 * one after another, in the order of KEYS. A key named twice is decided twice, in order.
 *
 * @example
 * redis.defineCommand('headroomGcraBatch', { lua: gcraBatchScript }); // numkeys goes first in each call
 */
export const gcraBatchScript = `${gcraFunction}
local out = {}
for n = 1, #KEYS do
  local remaining, reset, retry = decide(KEYS[n], ARGV[2 * n - 1], ARGV[2 * n])
  out[3 * n - 2] = remaining
  out[3 * n - 1] = reset
  out[3 * n] = retry
end
return out
`;
