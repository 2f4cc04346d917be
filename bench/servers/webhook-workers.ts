// The webhook workers of bench/webhooks.ts, in a process of their own (forked, with an IPC channel): createJobs and
// createWebhooks on a pg Pool, `webhooks.work({ concurrency })`, every attempt sent to the bench in batches, and
// every statement counted and timed by kind. Settings come from the bench through the environment.

import pg from 'pg';
import { systemClock } from '../../packages/core/src/clock/index.ts';
import { createJobs } from '../../packages/core/src/jobs/index.ts';
import { createWebhooks } from '../../packages/core/src/webhooks/index.ts';

/** An attempt: tenant, endpoint, result, wall ms when recorded, latencyMs (-1 unless delivered), durationMs. */
export type AttemptRow = [
  tenant: string,
  endpointId: string,
  result: string,
  at: number,
  latencyMs: number,
  durationMs: number,
];
/** Statements the workers sent, by kind: how many, and ms in all from call to answer (pool wait included). */
export type StatementStats = Record<string, { n: number; ms: number }>;
/** Both ways: `attempts` and `ready`, `stats` and `stopped` from here; `stats` and `stop` to here. */
export type WorkersMessage = { type: string; rows?: AttemptRow[]; statements?: StatementStats };

const kinds: [string, RegExp][] = [
  ['fetch_jobs', /fetch_jobs\(/],
  ['fan-out', /fan_out_webhook\(/],
  ['endpoint read', /FROM \S+\.webhook_endpoints WHERE id = \$1 AND tenant/],
  ['delivery read', /FROM \S+\.webhook_deliveries d\s+JOIN/],
  ['attempt record', /record_webhook_attempts\(/],
  ['jobs done', /SET state = 'done'/],
  ['job retry', /SET state = \$3, run_at = \$4/],
  ['job release', /attempts = attempts - 1/],
  ['group hold', /INTO \S+\.job_groups/],
  ['lease renew', /lease_until = \$3::bigint/],
  ['lease reap', /'lease-expired'/],
];

const url = process.env.BENCH_DATABASE_URL!;
const pool = new pg.Pool({ connectionString: url, max: Number(process.env.BENCH_WEBHOOK_POOL) });
const statements: StatementStats = {};
// Every statement of the queue and of the webhooks goes through here.
const db = {
  query: async (text: string, values?: unknown[]) => {
    const started = performance.now();
    try {
      return await pool.query(text, values);
    } finally {
      const kind = kinds.find(([, pattern]) => pattern.test(text))?.[0] ?? 'other';
      const s = statements[kind] ?? { n: 0, ms: 0 };
      statements[kind] = s;
      s.n++;
      s.ms += performance.now() - started;
    }
  },
};
const clock = systemClock();
const jobs = createJobs({
  db,
  clock,
  listen: async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  },
});
const webhooks = createWebhooks({
  jobs,
  clock,
  // Endpoints name a host that resolves to the loopback receiver, allowed by name.
  resolver: async () => [{ address: '127.0.0.1', family: 4 }],
  allowedHosts: [process.env.BENCH_WEBHOOK_HOST!],
  timeout: Number(process.env.BENCH_WEBHOOK_TIMEOUT),
});
let batch: AttemptRow[] = [];
webhooks.onAttempt((e) => {
  batch.push([e.tenant, e.endpointId, e.result, Date.now(), e.latencyMs ?? -1, e.durationMs]);
});
// One IPC message every 20 ms rather than one per attempt; each row carries its own time.
const flush = () => {
  if (batch.length > 0) process.send!({ type: 'attempts', rows: batch });
  batch = [];
};
const flusher = setInterval(flush, 20);
webhooks.work({ concurrency: Number(process.env.BENCH_WEBHOOK_CONCURRENCY) });
process.on('message', async (message: WorkersMessage) => {
  if (message.type === 'stats') {
    process.send!({ type: 'stats', statements });
  } else if (message.type === 'stop') {
    await webhooks.stop(1_000);
    await jobs.stop(1_000);
    clearInterval(flusher);
    flush();
    await pool.end();
    process.send!({ type: 'stopped' }, () => process.disconnect());
  }
});
process.send!({ type: 'ready' });
