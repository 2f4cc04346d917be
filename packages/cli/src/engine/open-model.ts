// The open model's clock: every arrival starts at its intended time whether or not earlier ones finished.
// One timer tick starts every arrival now due (a timer per arrival costs more than the request it times).

import { ArrivalCursor, type ArrivalStage } from './schedule.ts';

export interface OpenModelOptions {
  stages: readonly ArrivalStage[];
  /** This thread's share: arrival n is started here when n mod count = index. */
  shard: { index: number; count: number };
  /** When the first stage starts, on the `now` clock. */
  startMs: number;
  now: () => number;
  /** Iterations in flight at most; an arrival beyond it is dropped, not queued. */
  maxInflight: number;
  /** Checked before each arrival: true stops the schedule (iterations in flight still finish). */
  stopped: () => boolean;
  /**
   * Starts iteration `index` (over all shards) of `stage`, meant for `intendedMs` and issued at `issuedMs`
   * (at most 1 ms early: timer granularity). `done` must be called once when the iteration ends.
   */
  start(index: number, stage: number, intendedMs: number, issuedMs: number, done: () => void): void;
  /** An arrival of `stage` found `maxInflight` iterations in flight. */
  dropped(stage: number): void;
}

/** How early an arrival may start: timers fire on whole milliseconds. */
const earlyMs = 1;

/**
 * Runs the schedule; resolves when every arrival was started (or dropped) and every iteration ended.
 *
 * @example
 * await runOpenModel({ stages, shard, startMs: now() + 20, now, maxInflight: 1000, stopped, start, dropped });
 */
export function runOpenModel(options: OpenModelOptions): Promise<void> {
  const { shard, startMs, now, maxInflight } = options;
  const cursor = new ArrivalCursor(options.stages);
  let inflight = 0;
  let scheduled = true;
  let finish: () => void = () => {};
  const done = () => {
    inflight--;
    if (!scheduled && inflight === 0) finish();
  };
  const nextOfShard = () => {
    while (cursor.next()) if (cursor.index % shard.count === shard.index) return true;
    return false;
  };
  let more = nextOfShard();
  const tick = () => {
    let issued = now();
    while (more && startMs + cursor.at - issued <= earlyMs) {
      if (options.stopped()) {
        more = false;
        break;
      }
      if (inflight >= maxInflight) options.dropped(cursor.stage);
      else {
        inflight++;
        options.start(cursor.index, cursor.stage, startMs + cursor.at, issued, done);
      }
      more = nextOfShard();
      issued = now();
    }
    if (more) setTimeout(tick, Math.max(1, startMs + cursor.at - issued));
    else {
      scheduled = false;
      if (inflight === 0) finish();
    }
  };
  return new Promise((resolve) => {
    finish = resolve;
    tick();
  });
}
