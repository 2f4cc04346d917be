// What a chaos drill is: a fault played against the running cluster under steady load, judged by checks, with
// the figures the run table prints. Each drill is one file under drills/ exporting a `Drill`.

import { encodeCursor } from '../apps/casebook/src/http/cursor.ts';
import type { TimelinePoint } from '../packages/cli/src/engine/run.ts';
import type { DrillCheck } from '../packages/cli/src/gate/drill.ts';
import { RouteStats } from '../packages/cli/src/stats/route-stats.ts';
import type { Cluster } from './cluster.ts';
import type { WriteLedger } from './probe.ts';

export type { DrillCheck } from '../packages/cli/src/gate/drill.ts';

export interface DrillOptions {
  /** The short form: seconds instead of tens of seconds, what CI runs. */
  short: boolean;
}

export interface DrillResult {
  drill: string;
  pass: boolean;
  checks: DrillCheck[];
  /** Every answer of the load and the probes, by status code (`none`: no answer). */
  statuses: Record<string, number>;
  /** Answers that are neither 2xx nor an allowed refusal, and requests without an answer. */
  failed: number;
  /** Writes acknowledged (2xx) by casebook, and how many of them PostgreSQL does not have afterwards. */
  writes: { sent: number; acknowledged: number; lost: number };
  /** From the fault's end (or the restart) until normal again, in ms; undefined when not measured or never. */
  recoveryMs: number | undefined;
  durationMs: number;
  /** What the drill did and saw, a line each, for the JSON. */
  notes: string[];
}

export interface Drill {
  name: string;
  /** One line: the fault and what passing proves. */
  proves: string;
  run(cluster: Cluster, options: DrillOptions): Promise<DrillResult>;
}

/** Every cell's answers merged, as one status table; `none` counts requests without an answer. */
export function statusCounts(cells: readonly RouteStats[]): Record<string, number> {
  const all = mergeCells(cells, 'all');
  const counts: Record<string, number> = { ...all.codes };
  if (all.networkErrors > 0) counts.none = all.networkErrors;
  return counts;
}

/** `cells` merged into one. */
export function mergeCells(cells: readonly RouteStats[], name: string): RouteStats {
  const merged = new RouteStats(name, name);
  for (const cell of cells) merged.merge(cell);
  return merged;
}

/** Adds `more` into `into`, status by status. */
export function addCounts(
  into: Record<string, number>,
  more: Record<string, number>,
): Record<string, number> {
  for (const [status, n] of Object.entries(more)) into[status] = (into[status] ?? 0) + n;
  return into;
}

/** Answers outside 2xx and `allowed`, with requests that got no answer. */
export function failedCount(statuses: Record<string, number>, allowed: readonly number[] = []): number {
  let failed = 0;
  for (const [status, n] of Object.entries(statuses)) {
    const code = Number(status);
    const ok = status !== 'none' && ((code >= 200 && code < 300) || allowed.includes(code));
    if (!ok) failed += n;
  }
  return failed;
}

/**
 * Seconds from `fromMs` (ms since the first stage began) until the run's answers were all 2xx for good: the first
 * timeline second, among those that began at or after `fromMs`, from which every second to the end had answers
 * and only 2xx ones. One-second resolution (a second's answers are those that completed in it); undefined when
 * the run never got there.
 */
export function secondsUntilClean(timeline: readonly TimelinePoint[], fromMs: number): number | undefined {
  const after = secondsFrom(timeline, fromMs);
  for (let i = 0; i < after.length; i++) {
    if (after.slice(i).every(cleanSecond)) return Math.max(0, (after[i]!.t - 1) * 1000 - fromMs) / 1000;
  }
  return undefined;
}

/**
 * Whether every timeline second that began at or after `fromMs` had answers and only 2xx ones (and there was
 * one): "all 2xx from then on", at the timeline's resolution. A second that began before `fromMs` is not
 * judged, since its answers may have completed before it.
 */
export function cleanFrom(timeline: readonly TimelinePoint[], fromMs: number): boolean {
  const after = secondsFrom(timeline, fromMs);
  return after.length > 0 && after.every(cleanSecond);
}

// The timeline's seconds that began at or after `fromMs` (a second's answers are those that completed in it).
const secondsFrom = (timeline: readonly TimelinePoint[], fromMs: number) =>
  timeline.filter((point) => (point.t - 1) * 1000 >= fromMs - 1);

const cleanSecond = (point: TimelinePoint) =>
  point.requests > 0 &&
  (point.networkErrors ?? 0) === 0 &&
  Object.entries(point.codes ?? {}).every(
    ([code, n]) => n === 0 || (Number(code) >= 200 && Number(code) < 300),
  );

/** A check from a condition. */
export function check(name: string, ok: boolean, detail: string): DrillCheck {
  return { name, verdict: ok ? 'pass' : 'fail', detail };
}

/**
 * Counts by status as a drill's detail says them: `925 × 200, 191 × 503`.
 *
 * @example
 * formatCounts({ 200: 925, 503: 191 }); // '925 × 200, 191 × 503'
 */
export function formatCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([code, n]) => `${n} × ${code}`)
    .join(', ');
}

// A cursor after every event: a timeline page from it is read from PostgreSQL every time (first pages are cached).
const pastEveryEvent = encodeCursor({ at: '2999-12-31 23:59:59+00', id: 2 ** 31 - 1 });

/**
 * The path of a timeline page casebook reads from PostgreSQL on every request; `id` may be a load template.
 *
 * @example
 * getFlow('GET /v1/cases/:id/timeline', uncachedTimeline('${pick(vars.pageIds)}'), token);
 */
export function uncachedTimeline(id: number | string): string {
  return `/v1/cases/${id}/timeline?cursor=${pastEveryEvent}&limit=20`;
}

/**
 * Reads each path once on every instance with `token`, so that both caches hold them before a fault; throws on
 * an answer other than 200.
 *
 * @example
 * await warmEveryInstance(cluster, token, cachedIds.map((id) => `/v1/cases/${id}?expand=owner`));
 */
export async function warmEveryInstance(
  cluster: Cluster,
  token: string,
  paths: readonly string[],
): Promise<void> {
  for (const { url } of cluster.instances) {
    for (const path of paths) {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`warming ${path} answered ${res.status}`);
      await res.arrayBuffer();
    }
  }
}

/**
 * The check every drill makes of its writer, after `verifyWrites`: no acknowledged write missing from PostgreSQL.
 *
 * @example
 * checks.push(noWriteLost(await writer.stop()));
 */
export function noWriteLost(ledger: WriteLedger): DrillCheck {
  return check(
    'no acknowledged write lost',
    ledger.lost === 0,
    `${ledger.acknowledged.length} acknowledged of ${ledger.sent}, ${ledger.lost} missing from PostgreSQL`,
  );
}

/** The result of a drill from its checks and figures. */
export function drillResult(
  drill: string,
  parts: Omit<DrillResult, 'drill' | 'pass' | 'failed' | 'writes'> & {
    failed: number;
    ledger: WriteLedger;
  },
): DrillResult {
  const { ledger, ...rest } = parts;
  return {
    drill,
    ...rest,
    notes: [...rest.notes, ...ledger.unexpected.map((line) => `writer saw: ${line}`)],
    pass: parts.checks.every((c) => c.verdict === 'pass'),
    writes: { sent: ledger.sent, acknowledged: ledger.acknowledged.length, lost: ledger.lost },
  };
}

/** Resolves at `atMs` on the performance clock (now when it has passed). */
export function sleepUntil(atMs: number): Promise<void> {
  const wait = atMs - performance.now();
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
}
