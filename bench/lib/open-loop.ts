// An open-model load generator for drills: phases of constant arrival rate, every request scheduled at its
// intended start whether or not earlier ones have answered, and a bounded in-flight cap (an arrival that
// finds the cap full is dropped and counted, never queued). Latencies count from the intended start (no
// coordinated omission) and, for telling server time from generator lag, from the actual send.

import { cpus } from 'node:os';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';

export interface LoadPhase {
  name: string;
  /** Arrivals per second. */
  rate: number;
  seconds: number;
}

export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
}

export interface OpenLoopOptions {
  /** Builds the next request (path and headers). */
  next: () => LoadRequest;
  /** Connections of the undici pool. @default 256 */
  connections?: number;
  /** Requests in flight at most; an arrival beyond it is dropped by the generator. @default 2048 */
  maxInflight?: number;
  /** Headers and body timeout of one request; a timeout counts as a network error. @default 10_000 */
  timeoutMs?: number;
  /**
   * Connections opened before the first phase (requests to `warmPath`), as a load balancer keeps warm
   * connections to its backends: a spike then measures the server, not TCP handshakes. @default 0
   */
  warmConnections?: number;
  /** Path of the warming requests. @default '/health/live' */
  warmPath?: string;
}

/** Figures of one phase, or of one second of the run (by intended start). */
export interface Tally {
  /** Arrivals the schedule asked for. */
  scheduled: number;
  /** Arrivals actually sent. */
  sent: number;
  /** Arrivals dropped because `maxInflight` requests were in flight. */
  dropped: number;
  /** Answers by status code. */
  codes: Map<number, number>;
  /** 429 and 503 answers without a Retry-After header. */
  missingRetryAfter: number;
  /** Failures without an answer, by error code (timeouts, resets). */
  networkErrors: Map<string, number>;
  /** 200 answers, µs from intended start. */
  admitted: hdr.Histogram;
  /** 200 answers, µs from the actual send. */
  admittedFromSend: hdr.Histogram;
  /** Other answers by status, µs from the actual send. */
  fromSend: Map<number, hdr.Histogram>;
  /** Other answers by status, µs from intended start. */
  fromIntent: Map<number, hdr.Histogram>;
  /** How late the generator sent, µs after the intended start. */
  sendLag: hdr.Histogram;
}

export interface PhaseTally extends Tally {
  phase: LoadPhase;
  /** Sent ÷ the phase's duration. */
  achievedRps: number;
  /** CPU time of this process over the phase ÷ wall time (1 = one core). */
  generatorCores: number;
  /** Busy share of all the machine's cores over the phase (0..1). */
  machineBusy: number;
}

export interface OpenLoopResult {
  phases: PhaseTally[];
  /** Second i of the run (by intended start, from the first phase's start). */
  seconds: Tally[];
}

/** An empty µs latency histogram (1 µs to 120 s, 3 digits). */
export const histogram = (): hdr.Histogram =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });

const tally = (): Tally => ({
  scheduled: 0,
  sent: 0,
  dropped: 0,
  codes: new Map(),
  missingRetryAfter: 0,
  networkErrors: new Map(),
  admitted: histogram(),
  admittedFromSend: histogram(),
  fromSend: new Map(),
  fromIntent: new Map(),
  sendLag: histogram(),
});

const add = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);
const record = (map: Map<number, hdr.Histogram>, key: number, us: number) => {
  const h = map.get(key) ?? histogram();
  map.set(key, h);
  h.recordValue(us);
};
const us = (ms: number) => Math.max(1, Math.round(ms * 1000));

const machineTimes = () => {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
};

/** Milliseconds (from the intended start) at percentile `p` of a µs histogram; NaN when empty. */
export const percentileMs = (h: hdr.Histogram | undefined, p: number): number =>
  !h || h.totalCount === 0 ? Number.NaN : h.getValueAtPercentile(p) / 1000;

/**
 * Runs `phases` back to back against `origin` in this thread and tallies every arrival.
 *
 * @example
 * const { phases } = await runOpenLoop(origin, [{ name: 'steady', rate: 200, seconds: 10 }], {
 *   next: () => ({ path: '/v1/cases/search?q=fraud', headers: auth }),
 * });
 */
export async function runOpenLoop(
  origin: string,
  phases: LoadPhase[],
  options: OpenLoopOptions,
): Promise<OpenLoopResult> {
  const maxInflight = options.maxInflight ?? 2048;
  const timeout = options.timeoutMs ?? 10_000;
  const pool = new Pool(origin, { connections: options.connections ?? 256, pipelining: 1 });
  const seconds: Tally[] = [];
  const results: PhaseTally[] = [];
  let inflight = 0;
  // Concurrent requests make the pool open that many connections; they stay open (keep-alive) for the run.
  await Promise.all(
    Array.from({ length: options.warmConnections ?? 0 }, () =>
      pool
        .request({ method: 'GET', path: options.warmPath ?? '/health/live' })
        .then(({ body }) => body.dump()),
    ),
  );
  const t0 = performance.now() + 20;

  const fire = (phase: Tally, intended: number) => {
    const index = Math.floor((intended - t0) / 1000);
    const second = seconds[index] ?? tally();
    seconds[index] = second;
    phase.scheduled++;
    second.scheduled++;
    if (inflight >= maxInflight) {
      phase.dropped++;
      second.dropped++;
      return;
    }
    inflight++;
    phase.sent++;
    second.sent++;
    const { path, headers } = options.next();
    const sentAt = performance.now();
    phase.sendLag.recordValue(us(sentAt - intended));
    second.sendLag.recordValue(us(sentAt - intended));
    // dispatch with a plain handler: no body stream and no promise chain per response, so the generator's own
    // cost (which its latency figures include) stays small at 10 × R.
    let statusCode = 0;
    let retryAfter = false;
    pool.dispatch(
      { method: 'GET', path, headers, headersTimeout: timeout, bodyTimeout: timeout },
      {
        onConnect() {},
        onHeaders(status: number, rawHeaders: Buffer[]) {
          statusCode = status;
          for (let i = 0; i < rawHeaders.length; i += 2) {
            if (
              rawHeaders[i]!.length === 11 &&
              rawHeaders[i]!.toString('latin1').toLowerCase() === 'retry-after'
            )
              retryAfter = true;
          }
          return true;
        },
        onData() {
          return true;
        },
        onComplete() {
          inflight--;
          const done = performance.now();
          const shedWithoutHint = (statusCode === 429 || statusCode === 503) && !retryAfter;
          for (const t of [phase, second]) {
            add(t.codes, statusCode);
            if (shedWithoutHint) t.missingRetryAfter++;
            if (statusCode === 200) {
              t.admitted.recordValue(us(done - intended));
              t.admittedFromSend.recordValue(us(done - sentAt));
            } else {
              record(t.fromSend, statusCode, us(done - sentAt));
              record(t.fromIntent, statusCode, us(done - intended));
            }
          }
        },
        onError(error: Error) {
          inflight--;
          const code = (error as { code?: string }).code ?? 'unknown';
          add(phase.networkErrors, code);
          add(second.networkErrors, code);
        },
      },
    );
  };

  try {
    let phaseStart = t0;
    for (const phase of phases) {
      const t = tally();
      const interval = 1000 / phase.rate;
      const total = Math.round(phase.seconds * phase.rate);
      const cpuBefore = process.cpuUsage();
      const machineBefore = machineTimes();
      let next = 0;
      // A 1 ms tick that fires every arrival now due: a late tick sends late, and the lag is recorded.
      await new Promise<void>((resolve) => {
        const tick = () => {
          const now = performance.now();
          while (next < total && phaseStart + next * interval <= now) {
            fire(t, phaseStart + next * interval);
            next++;
          }
          if (next >= total) resolve();
          else setTimeout(tick, Math.max(0, Math.min(1, phaseStart + next * interval - now)));
        };
        tick();
      });
      const phaseEnd = phaseStart + phase.seconds * 1000;
      while (performance.now() < phaseEnd) await new Promise((r) => setTimeout(r, 1));
      const cpu = process.cpuUsage(cpuBefore);
      const machine = machineTimes();
      results.push({
        ...t,
        phase,
        achievedRps: t.sent / phase.seconds,
        generatorCores: (cpu.user + cpu.system) / 1000 / (phase.seconds * 1000),
        machineBusy: (machine.busy - machineBefore.busy) / (machine.total - machineBefore.total),
      });
      phaseStart = phaseEnd;
    }
    const drainBy = performance.now() + timeout + 1000;
    while (inflight > 0 && performance.now() < drainBy) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await pool.destroy();
  }
  return { phases: results, seconds };
}
