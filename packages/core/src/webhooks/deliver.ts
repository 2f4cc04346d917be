// One delivery attempt of a webhook: the Standard Webhooks body and headers, sent through a connection whose
// address was vetted by its own lookup, no redirect followed, the whole attempt bounded, at most 1 KB of the
// answer kept and 64 KB read; what happened comes back as a record (never thrown), ready to be stored as the attempt.

import { Agent, request } from 'undici';
import type { Clock } from '../clock/index.ts';
import { isHeadroomError } from '../errors/index.ts';
import { type EgressOptions, vettedLookup, webhookUrl } from './egress.ts';
import { webhookHeaders } from './signature.ts';

/** What is sent: the message (its id is the same on every retry) and where to. */
export interface WebhookMessage {
  /** `webhook-id`: stable across retries, so a receiver can drop duplicates. */
  id: string;
  /** The event type, `case.created` say. */
  type: string;
  /** The event's data (`data` of the payload). */
  data: unknown;
  /** When the event happened (the payload's `timestamp`, ISO 8601). */
  occurredAt: Date;
  url: string;
  /** Signing secrets: the current one, and one being rotated out. */
  secrets: readonly string[];
}

/** Options of `deliverWebhook`. */
export interface DeliverOptions extends EgressOptions {
  clock: Clock;
  /** Milliseconds the whole attempt may take, connection to last byte. @default 15_000 */
  timeout?: number;
  /** Milliseconds to connect. @default 5_000 */
  connectTimeout?: number;
  /** Reuses connections per destination; made per call when absent (closed after it). */
  agent?: Agent;
  /** Ends the attempt early (a worker that stops): it fails with the signal's reason. */
  signal?: AbortSignal;
}

/** How one attempt went. */
export interface DeliveryAttempt {
  /** 2xx within the time limit. */
  ok: boolean;
  /** The answer's status, when there was one. */
  status?: number;
  durationMs: number;
  /** The first 1 KB of the answer's body, as text. */
  response?: string;
  /** Why it failed without an answer (refused address, timeout, connection error). */
  error?: string;
  /** The answer's Retry-After (429, 503), in ms. */
  retryAfterMs?: number;
  /** The receiver said the endpoint is gone (410): stop sending to it. */
  gone: boolean;
}

const keptBytes = 1024;
const readBytes = 64 * 1024;

/**
 * An agent for one destination: its lookup vets the address it connects to (see `vettedLookup`).
 *
 * @example
 * const agent = webhookAgent('https://hooks.example.com/x', { allowedHosts });
 */
export function webhookAgent(url: string, options: EgressOptions & { connectTimeout?: number } = {}): Agent {
  const parsed = new URL(url);
  const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
  // undici's request follows no redirect unless a redirect interceptor is composed in: none is.
  return new Agent({
    connect: { lookup: vettedLookup(port, options), timeout: options.connectTimeout ?? 5_000 },
  });
}

function retryAfter(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Sends one attempt of `message`; never throws.
 *
 * @example
 * const attempt = await deliverWebhook(message, { clock, allowedHosts });
 * if (!attempt.ok) scheduleRetry(attempt.retryAfterMs);
 */
export async function deliverWebhook(
  message: WebhookMessage,
  options: DeliverOptions,
): Promise<DeliveryAttempt> {
  const { clock } = options;
  const started = clock.monotonic();
  const elapsed = () => Math.round(clock.monotonic() - started);
  const body = JSON.stringify({
    type: message.type,
    timestamp: message.occurredAt.toISOString(),
    data: message.data,
  });
  const headers = {
    ...webhookHeaders({
      id: message.id,
      timestamp: Math.floor(clock.now() / 1000),
      body,
      secrets: message.secrets,
    }),
    'content-type': 'application/json',
    'user-agent': 'headroom-webhooks/1',
  };
  let agent: Agent | undefined = options.agent;
  const deadline = new AbortController();
  const timer = clock.setTimeout(
    () => deadline.abort(new Error(`no answer within ${options.timeout ?? 15_000} ms`)),
    options.timeout ?? 15_000,
  );
  const stop = () => deadline.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  try {
    webhookUrl(message.url); // scheme and credentials; the address is vetted by the connection's own lookup
    agent ??= webhookAgent(message.url, options);
    const answer = await request(message.url, {
      method: 'POST',
      body,
      headers,
      dispatcher: agent,
      signal: deadline.signal,
    });
    // The first 1 KB is kept; up to 64 KB is read and dropped (the connection stays reusable); past that the
    // connection is closed: an endpoint that answers without end does not hold a worker for the whole timeout.
    let kept = Buffer.alloc(0);
    let read = 0;
    for await (const chunk of answer.body) {
      read += (chunk as Buffer).length;
      if (kept.length < keptBytes) kept = Buffer.concat([kept, chunk as Buffer]).subarray(0, keptBytes);
      if (read > readBytes) {
        answer.body.destroy();
        break;
      }
    }
    const status = answer.statusCode;
    const retry =
      status === 429 || status === 503 ? retryAfter(answer.headers['retry-after'], clock.now()) : undefined;
    return {
      ok: status >= 200 && status < 300,
      status,
      durationMs: elapsed(),
      response: kept.toString('utf8'),
      gone: status === 410,
      ...(retry === undefined ? {} : { retryAfterMs: retry }),
    };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const refused = isHeadroomError(error) ? error : isHeadroomError(cause) ? cause : undefined;
    const reason = refused
      ? `${refused.code}: ${refused.message}`
      : deadline.signal.aborted
        ? String((deadline.signal.reason as Error | undefined)?.message ?? 'aborted')
        : (error as Error).message;
    return { ok: false, durationMs: elapsed(), error: reason, gone: false };
  } finally {
    timer.cancel();
    options.signal?.removeEventListener('abort', stop);
    if (!options.agent) await agent?.close().catch(() => {});
  }
}
