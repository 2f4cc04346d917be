// The transport for what the lean pool does not speak (TLS): undici's pool, through its dispatch API so
// that `sentMs` is when the request went onto a socket, not when it joined the pool's queue.

import { type Dispatcher, Pool } from 'undici';
import type { Exchange, PreparedRequest, RequestParts, Transport, TransportOptions } from './transport.ts';

/**
 * Sends exchanges through an undici Pool.
 *
 * @example
 * const transport = new UndiciTransport('https://api.example.com', { connections: 64, timeoutMs: 10_000, now });
 */
export class UndiciTransport implements Transport {
  readonly #pool: Pool;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(target: string, options: TransportOptions) {
    this.#pool = new Pool(target, { connections: options.connections, pipelining: 1 });
    this.#timeoutMs = options.timeoutMs;
    this.#now = options.now;
  }

  /** undici checks the request itself when it is dispatched. */
  prepare(parts: RequestParts): PreparedRequest {
    return parts;
  }

  send(exchange: Exchange): void {
    const now = this.#now;
    const { request, keepBody, phases } = exchange;
    let sentMs = now();
    let status = 0;
    let timings: Float64Array | undefined;
    const chunks: Buffer[] = [];
    this.#pool.dispatch(
      {
        method: request.method as Dispatcher.HttpMethod,
        path: request.path,
        headers: request.headers,
        body: request.body,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      },
      {
        onRequestStart() {
          sentMs = now();
        },
        onResponseStart(_controller, statusCode, headers) {
          status = statusCode;
          timings = undefined;
          const value = phases === undefined ? undefined : headers['server-timing'];
          if (phases !== undefined && value !== undefined) {
            // The same reader as the lean pool's, on the bytes of each header line.
            timings = new Float64Array(phases.names.length).fill(Number.NaN);
            for (const line of Array.isArray(value) ? value : [value]) {
              const bytes = Buffer.from(line, 'latin1');
              phases.read(bytes, 0, bytes.length, timings);
            }
          }
        },
        onResponseData(_controller, chunk) {
          if (keepBody) chunks.push(chunk);
        },
        onResponseEnd() {
          exchange.onResponse(status, keepBody ? Buffer.concat(chunks) : undefined, sentMs, now(), timings);
        },
        onResponseError(_controller, error) {
          exchange.onError(error, sentMs, now());
        },
      },
    );
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
