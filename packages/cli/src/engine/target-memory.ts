// The target's memory during a run, as the target itself reports it: `process_resident_memory_bytes` from its
// Prometheus `/metrics` (prom-client's default metrics and every Prometheus client library export it), read on a
// timer beside the load. A soak judges the slope of these samples (gate/soak.ts).

/** One reading of the target's resident memory. */
export interface MemorySample {
  /** Seconds since the first stage began. */
  t: number;
  bytes: number;
}

/**
 * The value of the first sample of `name` in Prometheus text exposition, whatever its labels; undefined when the
 * text has none. Comment lines and other metrics that share the name as a prefix are skipped.
 *
 * @example
 * sampleValue('process_resident_memory_bytes 52428800\n', 'process_resident_memory_bytes'); // 52428800
 */
export function sampleValue(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    // The name ends at a label set or at the space before the value.
    let at = 0;
    if (rest[0] === '{') {
      at = rest.indexOf('}') + 1;
      if (at === 0) continue;
    } else if (rest[0] !== ' ' && rest[0] !== '\t') {
      continue;
    }
    const value = Number(rest.slice(at).trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

/**
 * Reads `url` every `everyMs` from `startMs()` on and keeps the target's RSS. A failed or unreadable scrape is
 * counted, not thrown: a soak with too few samples says so in its verdict. `stop()` waits for a scrape under way.
 *
 * @example
 * const memory = startMemorySampler({ url: new URL('/metrics', target), everyMs: 10_000, now, startMs: () => runStart });
 * try { await run(); } finally { await memory.stop(); }
 */
export function startMemorySampler(options: {
  url: URL;
  headers?: Record<string, string>;
  everyMs: number;
  now: () => number;
  /** When the first stage began (read at each scrape: it is set once the run starts). */
  startMs: () => number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}): { samples: MemorySample[]; failures: string[]; stop(): Promise<void> } {
  const get = options.fetch ?? fetch;
  const samples: MemorySample[] = [];
  const failures: string[] = [];
  let pending: Promise<void> = Promise.resolve();
  const scrape = async () => {
    const t = (options.now() - options.startMs()) / 1000;
    if (!(t >= 0)) return; // before the first stage
    try {
      const res = await get(options.url, {
        headers: options.headers ?? {},
        signal: AbortSignal.timeout(Math.min(options.everyMs, 5_000)),
      });
      if (!res.ok) {
        await res.body?.cancel();
        failures.push(`${options.url} answered ${res.status}`);
        return;
      }
      const bytes = sampleValue(await res.text(), 'process_resident_memory_bytes');
      if (bytes === undefined) failures.push(`${options.url} has no process_resident_memory_bytes`);
      else samples.push({ t, bytes });
    } catch (error) {
      failures.push(`${options.url}: ${(error as Error).message}`);
    }
  };
  const timer = setInterval(() => {
    pending = pending.then(scrape);
  }, options.everyMs);
  timer.unref();
  return {
    samples,
    failures,
    stop: async () => {
      clearInterval(timer);
      await pending;
    },
  };
}
