// The retry schedule of the Standard Webhooks spec: after the first attempt fails, again at once, then after 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h: eleven attempts over about three days. Each wait is spread
// by up to ±10%, so the retries of many messages that failed together do not arrive together.

/** The waits of the schedule, in ms, after failed attempt 1, 2, … */
export const standardWebhooksSchedule: readonly number[] = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  14 * 3_600_000,
  20 * 3_600_000,
  24 * 3_600_000,
];

/** Attempts in all on this schedule: the first and one per wait. */
export const standardWebhooksAttempts = standardWebhooksSchedule.length + 1;

/**
 * The wait after failed attempt number `attempt` (1 for the first), jittered by ±10% (`random` in [0, 1)); past
 * the schedule, its last wait.
 *
 * @example
 * jobs.work('webhook-deliveries', deliver, { retryDelay: (attempt) => standardWebhooksRetryDelay(attempt) });
 */
export function standardWebhooksRetryDelay(attempt: number, random: () => number = Math.random): number {
  const index = Math.min(Math.max(1, Math.floor(attempt)), standardWebhooksSchedule.length) - 1;
  const wait = standardWebhooksSchedule[index]!;
  return Math.round(wait * (0.9 + 0.2 * random()));
}
