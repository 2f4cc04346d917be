// The runbook pages the generated alerts link to (`runbook_url`), from the seeds' incident playbooks (Redis down,
// high error rate, webhook failures, database degradation), written for a service on Headroom: what the alert
// means, what to look at first (the service's own /health, /admin and metrics), what to do, and when it is over.

import type { Spec } from '@headroom/core/slo';
import type { runbookNames } from './rules.ts';

interface Runbook {
  title: string;
  means: string;
  look: string[];
  act: string[];
  over: string;
}

const pages: Record<(typeof runbookNames)[number], Runbook> = {
  'high-error-rate': {
    title: 'High error rate',
    means:
      'A route answers errors (5xx, or the statuses its objective counts) fast enough to spend its error budget before the window ends, or over 1% / 5% of all answers are 5xx.',
    look: [
      '`GET /health`: which check warns or fails (database, Redis, a breaker, a queue).',
      '`http_requests_total{code=~"5.."}` by route: one route or all of them?',
      'The log lines of the failing route (each carries its request id; `HR_*` codes say which failure).',
      'The last deploy (`headroom_build_info`): did the errors start with it?',
    ],
    act: [
      'A deploy: roll it back first, investigate after.',
      'A dependency (database, upstream, Redis): follow its runbook; breakers and fallbacks should be answering.',
      'Overload (503 `HR_OVERLOADED`): the adaptive limit is shedding; add capacity or shed a feature (`PUT /admin/flags/<flag>`).',
    ],
    over: 'The burn rate is back under 1 for the short window and the alert resolves by itself.',
  },
  'slow-route': {
    title: 'A route over its latency budget',
    means:
      "More requests than the percentile allows take longer than the route's budget in headroom.yaml (the share over budget is read exactly: every budget is a bucket edge).",
    look: [
      "The route's `http_request_duration_seconds` by code: slow successes or slow failures?",
      '`headroom_db_pool_wait_seconds` and `headroom_db_pool_connections{state="waiting"}`: waiting for the database?',
      "`headroom_cache_requests_total` for the route's cache: has the hit ratio dropped (an invalidation storm, a cold start)?",
      '`GET /admin/degrader`: has the degrader turned features off already?',
    ],
    act: [
      'Turn the costly feature off by hand if the degrader has not (`PUT /admin/flags/<flag> {"value": false, "reason": "…"}`).',
      'A slow query: `EXPLAIN` it; the database runbook applies.',
      'Not enough capacity: add instances; the limits share per instance through Redis.',
    ],
    over: "The route's share over budget is back under what its percentile allows.",
  },
  'redis-down': {
    title: 'Redis down',
    means:
      'The shared cache tier (L2) and the shared rate limits cannot reach Redis. Headroom fails open: each instance serves from its own L1 cache and enforces its share of every quota locally.',
    look: [
      '`redis-cli -h <host> ping`, and the Redis server log (OOM, disk full, network).',
      '`GET /health`: `redis:responseTime` and `breaker:cache:<name>:l2` warn; the service stays ready.',
      '`headroom_ratelimit_decisions_total{source="insurance"}`: limits decided locally.',
    ],
    act: [
      'Restart or fail over Redis; nothing in the service needs restarting: the L2 breaker probes and closes, the invalidation bus reconnects.',
      'Expect a lower cache hit ratio and stricter per-instance limits meanwhile.',
    ],
    over: 'The L2 breaker is closed again and `cache:bus` passes.',
  },
  'webhook-failures': {
    title: 'Webhook deliveries failing',
    means:
      'Over 20% of webhook attempts fail. Each endpoint has its own breaker and concurrency cap, so one failing receiver does not hold the others; deliveries are retried on the Standard Webhooks schedule.',
    look: [
      '`GET /admin/webhooks/failing`: which endpoints, since when, their last status and error.',
      '`headroom_webhook_pending{endpoint_state}` and `headroom_webhook_attempts_total{result}`.',
      'One receiver or all of them? All: look at egress (DNS, proxy, the network); one: tell its owner.',
    ],
    act: [
      'A receiver that answers 410 is disabled by itself; one failing for the configured time too (`webhook.disabled` in its record).',
      'After a receiver is fixed: `POST /v1/webhooks/:id/recover {since}` redelivers every failed delivery.',
    ],
    over: 'The failing share is back under 20%, and the recovered deliveries are delivered.',
  },
  'database-degradation': {
    title: 'Database degradation',
    means:
      'PostgreSQL is slow, saturated or unreachable: the pool is over 90% in use with callers waiting, or database-bound routes spend their budgets.',
    look: [
      '`GET /health`: `database:responseTime`; `breaker:database` open means new connections time out.',
      '`headroom_db_pool_wait_seconds`, `headroom_db_pool_connections{state}`.',
      'In PostgreSQL: `pg_stat_activity` (long transactions, locks), `pg_stat_statements` (the top queries).',
    ],
    act: [
      'Cached routes keep answering (stale, flagged); others answer 503 with Retry-After within their deadline, never hang.',
      'Kill a runaway query (`pg_cancel_backend`), then find who sent it.',
      'Raise the pool only if PostgreSQL has room; more connections to a saturated server make it slower.',
    ],
    over: 'No caller waits for a connection, and database-bound routes are back within budget.',
  },
  'queue-backlog': {
    title: 'Job queue backlog or dead letters',
    means: 'A queue has had ready work waiting for over 5 minutes, or jobs keep running out of attempts.',
    look: [
      '`headroom_jobs{queue,state}`, `headroom_jobs_oldest_ready_seconds{queue}`, `headroom_job_failures_total{queue,reason}`.',
      '`GET /admin/queues` (dead jobs with their last error).',
    ],
    act: [
      'Workers down or too few: start more; a paused queue: resume it.',
      'Dead letters: fix the cause, then redrive them (`jobs.redrive(queue)` or the admin API).',
    ],
    over: 'The oldest ready job waits under a minute and the dead count has stopped growing.',
  },
  'breaker-open': {
    title: 'A circuit breaker is open',
    means:
      "A dependency failed or slowed past the breaker's thresholds; calls to it are refused at once and answered by the fallback (stale or partial answers).",
    look: [
      '`GET /admin/breakers`: which breaker, why it opened, when it probes next.',
      "The dependency's own health.",
    ],
    act: [
      'Fix the dependency; the breaker probes and closes by itself.',
      'Hold it open during maintenance (`isolate`), or close it by hand once sure (`reset`) through the admin API.',
    ],
    over: 'The breaker is closed.',
  },
  'real-user-experience': {
    title: 'Real users over a page budget',
    means:
      "More page views than the journey's target allows (25% by default: web-vitals' p75) were over a budget of the spec's `rum:` for the last hour, as browsers reported it (web-vitals beacons to POST /rum).",
    look: [
      '`headroom_rum_seconds{journey,metric}` and `headroom_rum_cls{journey}`: which metric, since when, and the last deploy (`headroom_build_info`).',
      'TTFB: the server; the routes of the journey against their own budgets (`headroom:slo_latency_over_budget:*`).',
      'FCP and LCP: assets, their sizes and caching; INP: long tasks in the page script; CLS: layout that moves as content arrives.',
    ],
    act: [
      'A deploy of the front end or the API: roll it back if the regression started with it.',
      'TTFB with the API within its budgets: the network or the edge in front of it (CDN, proxy caches).',
    ],
    over: 'The share over budget is back under the threshold for 30 minutes.',
  },
  'cache-hit-ratio': {
    title: 'Cache hit ratio low',
    means:
      'The cache answers under half of its lookups for 15 minutes: more load reaches the database than planned.',
    look: [
      '`headroom_cache_requests_total{tier,result}` and `headroom_cache_loads_total`: misses, or errors?',
      'A deploy or a restart (cold caches), or an invalidation storm (many writes by tag)?',
    ],
    act: [
      'Usually it recovers by itself as caches warm; if not, check the TTLs in the config and the key cardinality.',
    ],
    over: 'The hit ratio is back over 50%.',
  },
};

/** Every runbook page as Markdown, by file name (`high-error-rate.md`, …). */
export function runbooks(spec: Pick<Spec, 'service'>): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [name, page] of Object.entries(pages)) {
    files[`${name}.md`] = [
      `# ${spec.service}: ${page.title}`,
      '',
      '_Generated by `headroom gen` from headroom.yaml; the alerts that link here are in `rules/`._',
      '',
      `**What it means.** ${page.means}`,
      '',
      '**Look first**',
      '',
      ...page.look.map((line) => `- ${line}`),
      '',
      '**Do**',
      '',
      ...page.act.map((line, i) => `${i + 1}. ${line}`),
      '',
      `**Over when** ${page.over.charAt(0).toLowerCase()}${page.over.slice(1)}`,
      '',
    ].join('\n');
  }
  return files;
}
