// A run's second-by-second account: every second, the answers of the second before (count, errors, p50/p95/p99)
// become a point of the timeline, the stage being run is named for the progress line, and the abort check runs.

import { RouteStats } from '../stats/route-stats.ts';

/** One second of a run. */
export interface TimelinePoint {
  /** Seconds since the first stage began. */
  t: number;
  requests: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  /** Answers by exact status code. */
  codes?: Record<string, number>;
  /** Requests without an answer. */
  networkErrors?: number;
}

/** A window's answers in a long stage (a soak), as a point of its p95 series. */
export interface WindowPoint {
  /** Seconds since the first stage began, at the window's start. */
  from: number;
  /** And at its end. */
  t: number;
  requests: number;
  admitted: number;
  /** Of admitted answers; 0 when there were none. */
  p95: number;
}

/** What the ticker reports each second, besides the point. */
export interface TimelineTick {
  elapsedMs: number;
  stage: string;
  /** The answers of the second just ended (reset after the tick). */
  recent: RouteStats;
}

/**
 * Starts a one-second ticker: each tick calls `onTick` (progress, abort checks), then turns `recent`'s answers
 * into a point of `points` and resets it. `stop()` ends it.
 *
 * @example
 * const ticker = startTimeline({ stages, recent, now, startMs: () => runStart, onTick });
 * try { await run(); } finally { ticker.stop(); }
 */
export function startTimeline(options: {
  stages: readonly { name: string; durationMs: number }[];
  recent: RouteStats;
  now: () => number;
  /** When the first stage began (read at each tick: it is set once the run starts). */
  startMs: () => number;
  onTick: (tick: TimelineTick) => void;
  /**
   * Keep each second's answers in full (three histograms a second: about 1 GB for an hour), for verdicts over
   * spans of seconds (a spike's recovery). @default false: only the points
   */
  keepSeconds?: boolean;
  /**
   * Also cut the seconds from `fromMs` to `toMs` (since the first stage began) into windows of `everyMs`, and keep
   * each full window's p95 (a soak's drift): one histogram at a time, whatever the stage's length.
   */
  windows?: { fromMs: number; toMs: number; everyMs: number };
}): { points: TimelinePoint[]; seconds: RouteStats[]; windows: WindowPoint[]; stop(): void } {
  const { recent, now } = options;
  const points: TimelinePoint[] = [];
  const seconds: RouteStats[] = [];
  const windows: WindowPoint[] = [];
  const window = new RouteStats('window', 'all');
  let windowEndMs = options.windows ? options.windows.fromMs + options.windows.everyMs : 0;
  let windowFrom: number | undefined;
  const timer = setInterval(() => {
    const elapsedMs = now();
    const sinceStart = elapsedMs - options.startMs();
    options.onTick({ elapsedMs, stage: currentStage(options.stages, sinceStart), recent });
    const t = Math.round(sinceStart / 1000);
    // The second that ends at `t` began at `t - 1`: it belongs to the window it began in.
    const span = options.windows;
    if (span && (t - 1) * 1000 >= span.fromMs && t * 1000 <= span.toMs) {
      windowFrom ??= t - 1;
      window.merge(recent);
      if (t * 1000 >= windowEndMs) {
        windows.push({
          from: windowFrom,
          t,
          requests: window.count,
          admitted: window.admitted,
          p95: window.admitted ? window.percentileMs(95) : 0,
        });
        window.reset();
        windowFrom = undefined;
        windowEndMs += span.everyMs;
      }
    }
    if (options.keepSeconds) {
      const second = new RouteStats(`${t}`, 'all');
      second.merge(recent);
      seconds.push(second);
    }
    points.push({
      t,
      codes: { ...recent.codes },
      networkErrors: recent.networkErrors,
      requests: recent.count,
      errors: (recent.status['5xx'] ?? 0) + recent.networkErrors,
      p50: recent.count ? recent.percentileMs(50) : 0,
      p95: recent.count ? recent.percentileMs(95) : 0,
      p99: recent.count ? recent.percentileMs(99) : 0,
    });
    recent.reset();
  }, 1000);
  timer.unref();
  return { points, seconds, windows, stop: () => clearInterval(timer) };
}

/** The stage running `elapsed` ms after the first began (the last one after the end). */
export function currentStage(
  stages: readonly { name: string; durationMs: number }[],
  elapsed: number,
): string {
  let t = 0;
  for (const stage of stages) {
    t += stage.durationMs;
    if (elapsed < t) return stage.name;
  }
  return stages.at(-1)?.name ?? '';
}
