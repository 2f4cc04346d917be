// Two ways to load a server for the foundation benches: wrk (closed model, for peak throughput) and a
// constant-rate open-model loop whose latencies count from each request's intended start (no
// coordinated omission). The full generator is the `headroom` CLI's job; this is the minimum for honest
// figures now.

import { execFileSync } from 'node:child_process';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Runs wrk (Debian package `wrk`) and parses req/s and latency percentiles from `--latency` output. */
export function wrk(
  url: string,
  options: { connections?: number; seconds?: number; headers?: Record<string, string> } = {},
): WrkResult {
  const args = ['-t1', `-c${options.connections ?? 32}`, `-d${options.seconds ?? 10}s`, '--latency'];
  for (const [key, value] of Object.entries(options.headers ?? {})) args.push('-H', `${key}: ${value}`);
  const out = execFileSync('wrk', [...args, url], { encoding: 'utf8' });
  const ms = (label: string) => {
    const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out);
    if (!m) throw new Error(`no ${label}% in wrk output:\n${out}`);
    const value = Number(m[1]);
    return m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50Ms: ms('50'), p99Ms: ms('99'), errors };
}

export interface RateResult {
  sent: number;
  errors: number;
  achievedRps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/**
 * Sends `rate` requests per second for `seconds`, each scheduled at its intended start whether or not
 * earlier ones have answered; latency is measured from the intended start.
 */
export async function constantRate(
  origin: string,
  paths: () => string,
  options: { rate: number; seconds: number; headers?: Record<string, string>; connections?: number },
): Promise<RateResult> {
  const pool = new Pool(origin, { connections: options.connections ?? 64, pipelining: 1 });
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const interval = 1000 / options.rate;
  const total = Math.round(options.rate * options.seconds);
  const begin = performance.now();
  let errors = 0;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const intended = begin + i * interval;
    const wait = intended - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    // A request sent late counts from its intended start (no coordinated omission); one sent a little
    // early (timer granularity) counts from when it was really sent.
    const start = Math.min(intended, performance.now());
    inflight.push(
      pool
        .request({ method: 'GET', path: paths(), headers: options.headers })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode >= 400) errors++;
        })
        .catch(() => {
          errors++;
        })
        .finally(() => {
          histogram.recordValue(Math.round((performance.now() - start) * 1000));
        }),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - begin) / 1000;
  await pool.close();
  const at = (p: number) => histogram.getValueAtPercentile(p) / 1000;
  return { sent: total, errors, achievedRps: total / elapsed, p50Ms: at(50), p95Ms: at(95), p99Ms: at(99) };
}
