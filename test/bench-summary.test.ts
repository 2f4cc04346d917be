// `npm run bench` reads each bench's verdict from its output: the lines that judge it against a goal or a
// peer, not the tables' headers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { verdictLines } from '../bench/all.ts';

test('verdict lines: goals, met / NOT met, ratios and overheads; table data rows yes, headers and rules no', () => {
  const output = [
    'starting redis...',
    '| store | headroom GCRA decisions/s | rate-limiter-flexible decisions/s | headroom ÷ rlf | errors |',
    '| --- | ---: | ---: | ---: | ---: |',
    '| Redis (one redis-server) | 136,832 | 75,000 | 1.82 | 0 |',
    'Redis (one redis-server): ratio 1.82 (goal ≥ 1.0, no errors) met',
    'memory: ratio 0.90 (goal ≥ 1.0, no errors) NOT met',
    '| path | ours ops/s | peer | peer ops/s | ratio | goal |',
    '| L2 get, 930 B entry (32 callers) | 55,916 | raw ioredis getBuffer | 61,052 | 8.4% overhead | <= 20% |',
    'headroom overhead 1.578 µs (goal ≤ 2 µs); cockatiel ÷ headroom per-call overhead = 3.33 (goal ≥ 1.0)',
  ].join('\n');
  assert.deepEqual(verdictLines(output), [
    'Redis (one redis-server): ratio 1.82 (goal ≥ 1.0, no errors) met',
    'memory: ratio 0.90 (goal ≥ 1.0, no errors) NOT met',
    '| L2 get, 930 B entry (32 callers) | 55,916 | raw ioredis getBuffer | 61,052 | 8.4% overhead | <= 20% |',
    'headroom overhead 1.578 µs (goal ≤ 2 µs); cockatiel ÷ headroom per-call overhead = 3.33 (goal ≥ 1.0)',
  ]);
});
