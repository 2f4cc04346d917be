// The GCRA Lua script: the same arithmetic as ../gcra.ts, in the same order, so Redis and memory agree
// to the last cell. One key (Cluster-safe), one round trip, TAT kept with a PX expiry.

/**
 * KEYS[1] the bucket; ARGV[1] 'interval burst cost' (ms, cells, cells: one argument, so a policy's part is
 * serialized once), ARGV[2] now (ms since the epoch) or 'T' to use the server's TIME. Returns
 * { remaining, resetMs, retryAfterMs }; the request was allowed exactly when retryAfterMs is 0 (a limited
 * request always waits at least 1 ms).
 *
 * @example
 * redis.defineCommand('headroomGcra', { numberOfKeys: 1, lua: gcraScript });
 */
export const gcraScript = `
local i, b, c = string.match(ARGV[1], '^(%S+) (%S+) (%S+)$')
local interval = tonumber(i)
local burst = tonumber(b)
local cost = tonumber(c)
local now = tonumber(ARGV[2])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
end
local eps = 0.01
local tolerance = burst * interval

local function cells(ms)
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

local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  local s = tonumber(stored)
  if s > now then tat = s end
end
local newtat = tat + cost * interval
local allowat = newtat - tolerance
if allowat - now > eps then
  return { cells(tolerance - (tat - now)), ceilms(tat - now), ceilms(allowat - now) }
end
local reset = ceilms(newtat - now)
if cost > 0 then
  local ttl = reset
  if ttl < 1 then ttl = 1 end
  redis.call('SET', KEYS[1], string.format('%.17g', newtat), 'PX', string.format('%d', ttl))
end
return { cells(tolerance - (newtat - now)), reset, 0 }
`;
