// The closed model: each stage keeps `vus` virtual users busy, each running iterations back to back with its
// think time between them, until the stage ends; a new iteration starts only when the last one answered.

import { setTimeout as sleep } from 'node:timers/promises';
import type { ClosedStage } from '../scenario/scenario.ts';

export interface ClosedModelOptions {
  stages: readonly ClosedStage[];
  /** This thread's share of each stage's users. */
  shard: { index: number; count: number };
  /** When the first stage starts, on the `now` clock. */
  startMs: number;
  now: () => number;
  /** Checked before each iteration: true stops the users (iterations running still finish). */
  stopped: () => boolean;
  /** Runs one iteration of `stage`. */
  iterate(stage: number): Promise<void>;
}

/**
 * Runs the stages one after the other; resolves when the last stage's users stopped.
 *
 * @example
 * await runClosedModel({ stages, shard, startMs: now() + 20, now, stopped, iterate });
 */
export async function runClosedModel(options: ClosedModelOptions): Promise<void> {
  const { now, shard } = options;
  let stageStart = options.startMs;
  for (const [index, stage] of options.stages.entries()) {
    const end = stageStart + stage.durationMs;
    await Promise.all(
      Array.from({ length: vusOf(stage.vus, shard) }, async () => {
        while (now() < end && !options.stopped()) {
          await options.iterate(index);
          if (stage.thinkTimeMs > 0) await sleep(stage.thinkTimeMs);
        }
      }),
    );
    stageStart = end;
  }
}

/** This shard's share of `vus`, spreading the remainder over the first shards. */
function vusOf(vus: number, shard: { index: number; count: number }): number {
  return Math.floor(vus / shard.count) + (shard.index < vus % shard.count ? 1 : 0);
}
