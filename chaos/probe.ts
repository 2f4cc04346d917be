// Requests a drill makes beside the load, one at a time at a low rate, whose answers it must see in full: writes
// whose acknowledgement is recorded (then looked for in PostgreSQL), and reads whose refusals must carry
// Retry-After. The load itself is the CLI engine's (load.ts); this is the drill's own ledger.

import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export interface ProbeAnswers {
  sent: number;
  /** By status code; `none` for a request without an answer within the probe's timeout. */
  statuses: Record<string, number>;
  /** 429 and 503 answers without a Retry-After header. */
  refusalsWithoutRetryAfter: number;
  /** The slowest answer of each status, in ms. */
  slowestMs: Record<string, number>;
  /** The first few answers that were neither 2xx nor 429/503: status and body, for the report. */
  unexpected: string[];
}

export interface Probe {
  /** Stops sending, waits for the request in flight, returns what was seen. */
  stop(): Promise<ProbeAnswers>;
}

export interface WriteLedger extends ProbeAnswers {
  /** The marker of every comment casebook acknowledged (201). */
  acknowledged: string[];
  /** Acknowledged comments that PostgreSQL does not have (set by `verifyWrites`). */
  lost: number;
}

/**
 * Sends `request()` every `everyMs` (the next one after the answer, when an answer takes longer), each with a
 * `timeoutMs` bound, until stopped. `onAnswer` sees each answer and its body.
 */
export function startProbe(
  request: () => { url: string; init: RequestInit; marker?: string },
  options: {
    everyMs: number;
    timeoutMs?: number;
    onAnswer?: (marker: string | undefined, status: number, body: string) => void;
  },
): Probe {
  const answers: ProbeAnswers = {
    sent: 0,
    statuses: {},
    refusalsWithoutRetryAfter: 0,
    slowestMs: {},
    unexpected: [],
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const next = performance.now() + options.everyMs;
      const { url, init, marker } = request();
      const started = performance.now();
      let status = 'none';
      answers.sent++;
      try {
        const res = await fetch(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) });
        const body = await res.text();
        status = String(res.status);
        const refusal = res.status === 429 || res.status === 503;
        if (!refusal && res.status >= 300 && answers.unexpected.length < 5)
          answers.unexpected.push(
            `${init.method ?? 'GET'} ${new URL(url).pathname} → ${res.status} ${body.slice(0, 300)}`,
          );
        if ((res.status === 429 || res.status === 503) && !res.headers.get('retry-after'))
          answers.refusalsWithoutRetryAfter++;
        options.onAnswer?.(marker, res.status, body);
      } catch {
        // no answer within the timeout, or the connection failed: counted under `none`
      }
      const ms = performance.now() - started;
      answers.statuses[status] = (answers.statuses[status] ?? 0) + 1;
      answers.slowestMs[status] = Math.max(answers.slowestMs[status] ?? 0, ms);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return answers;
    },
  };
}

/**
 * A JSON POST with the bearer token and a fresh Idempotency-Key, as the drills' writes are sent.
 *
 * @example
 * await fetch(`${origin}/v1/exports`, keyedPost(token, { kind: 'cases', format: 'csv' }));
 */
export function keyedPost(token: string, body: unknown): RequestInit {
  return {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    },
    body: JSON.stringify(body),
  };
}

/**
 * Posts a comment with an Idempotency-Key every `everyMs` to one of `caseIds`, each with a unique body (its
 * marker), and records the markers casebook acknowledged with a 201.
 */
export function startWriter(
  origin: string,
  token: string,
  caseIds: readonly number[],
  options: { drill: string; everyMs: number },
): { stop(): Promise<WriteLedger> } {
  const acknowledged: string[] = [];
  const run = randomUUID().slice(0, 8);
  let n = 0;
  const probe = startProbe(
    () => {
      const marker = `chaos ${options.drill} ${run} #${++n}`;
      const caseId = caseIds[n % caseIds.length];
      return {
        marker,
        url: `${origin}/v1/cases/${caseId}/comments`,
        init: keyedPost(token, { body: marker }),
      };
    },
    {
      everyMs: options.everyMs,
      onAnswer: (marker, status) => {
        if (status === 201 && marker) acknowledged.push(marker);
      },
    },
  );
  return {
    async stop() {
      return { ...(await probe.stop()), acknowledged, lost: 0 };
    },
  };
}

/** Looks for every acknowledged comment in PostgreSQL; sets and returns how many are missing. */
export async function verifyWrites(pool: pg.Pool, ledger: WriteLedger): Promise<number> {
  const { rows } = await pool.query<{ body: string }>(
    'SELECT body FROM comments WHERE body = ANY($1::text[])',
    [ledger.acknowledged],
  );
  const found = new Set(rows.map((row) => row.body));
  ledger.lost = ledger.acknowledged.filter((marker) => !found.has(marker)).length;
  return ledger.lost;
}
