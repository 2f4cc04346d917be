// What the generator sends requests through: the lean HTTP/1.1 pool (http1-pool.ts) for http: targets,
// undici for anything else (https:). Callbacks, not promises: the open model's hot path allocates no
// promise per request.

import { Http1Pool } from './http1-pool.ts';
import type { ServerTimingPhases } from './server-timing.ts';
import { UndiciTransport } from './undici-transport.ts';

/** A rendered request. Header names are lower case. */
export interface RequestParts {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** A request ready for one transport (for the lean pool: serialized), reusable for every send. */
export interface PreparedRequest extends RequestParts {
  /** The request as it goes on the wire, host header included (the lean pool's). */
  bytes?: Buffer;
}

/** One request and what to do with its answer; the transport calls exactly one of the two callbacks. */
export interface Exchange {
  readonly request: PreparedRequest;
  /** Keep the answer's body (for captures and checks); otherwise it is read past. */
  readonly keepBody: boolean;
  /** The phases to read from the answer's `Server-Timing` (its route's budgeted ones); none: not read. */
  readonly phases?: ServerTimingPhases | undefined;
  /**
   * `sentMs`: when the request went onto a socket; `doneMs`: when the answer's last byte came; `timings`: when
   * the answer carried `Server-Timing` and `phases` were asked for, each phase's ms in their order (NaN: it did
   * not run). The transport reuses `timings`: it is valid during the call only.
   */
  onResponse(
    status: number,
    body: Buffer | undefined,
    sentMs: number,
    doneMs: number,
    timings?: Float64Array,
  ): void;
  onError(error: Error, sentMs: number, doneMs: number): void;
}

export interface Transport {
  /** Checks and (for the lean pool) serializes a request; throws when it cannot be sent. */
  prepare(parts: RequestParts): PreparedRequest;
  send(exchange: Exchange): void;
  /** Opens up to `count` connections before any request needs them; resolves when each is open or failed. */
  warm?(count: number): Promise<void>;
  /** Closes every connection; exchanges still waiting fail. */
  close(): Promise<void>;
}

export interface TransportOptions {
  /** Sockets to the target at most. */
  connections: number;
  /** Time allowed to connect, to an answer's headers and between its body chunks. */
  timeoutMs: number;
  /** The clock `sentMs` and `doneMs` are read on, in ms. */
  now: () => number;
}

/**
 * The transport for `target`'s scheme.
 *
 * @example
 * const transport = createTransport('http://127.0.0.1:3000', { connections: 64, timeoutMs: 10_000, now });
 */
export function createTransport(target: string, options: TransportOptions): Transport {
  return new URL(target).protocol === 'http:'
    ? new Http1Pool(target, options)
    : new UndiciTransport(target, options);
}

/**
 * Sends one request and resolves with its answer (never rejects: a failure is an `error`), for the paths
 * where a promise per request is affordable (setup, templated steps, the closed model). `timings` is the
 * answer's own copy.
 */
export function exchange(
  transport: Transport,
  request: PreparedRequest,
  keepBody: boolean,
  phases?: ServerTimingPhases,
): Promise<{
  status?: number;
  body?: Buffer;
  timings?: Float64Array;
  error?: Error;
  sentMs: number;
  doneMs: number;
}> {
  return new Promise((resolve) => {
    transport.send({
      request,
      keepBody,
      phases,
      onResponse: (status, body, sentMs, doneMs, timings) =>
        resolve({ status, body, sentMs, doneMs, ...(timings ? { timings: timings.slice() } : {}) }),
      onError: (error, sentMs, doneMs) => resolve({ error, sentMs, doneMs }),
    });
  });
}
