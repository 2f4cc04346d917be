// One step of a flow: render it, send it, check it, capture from it.

import { JSONPath } from 'jsonpath-plus';
import type { Dispatcher } from 'undici';
import type { Step } from '../scenario/scenario.ts';
import { render, renderDeep, renderPath, type TemplateContext } from '../scenario/template.ts';

export interface StepOutcome {
  method: string;
  path: string;
  /** When the generator issued the request (late when after its intended start: the generator fell behind). */
  issuedMs: number;
  /** When the request went onto a socket (later than issued when the connection pool was busy). */
  sentMs: number;
  doneMs: number;
  status?: number;
  checkFailed: boolean;
  /** Variables captured from the answer. */
  captured: Record<string, unknown>;
  error?: string;
}

/**
 * Sends one rendered step through `dispatcher`; never throws (a failure is an outcome).
 *
 * @example
 * const outcome = await sendStep(pool, step, context, 10_000, () => performance.now() - t0);
 */
export async function sendStep(
  dispatcher: Dispatcher,
  step: Step,
  context: TemplateContext,
  timeoutMs: number,
  now: () => number,
): Promise<StepOutcome> {
  let path = step.path;
  const issuedMs = now();
  let sentMs = issuedMs;
  try {
    path = renderPath(step.path, context);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(step.headers ?? {}))
      headers[key.toLowerCase()] = String(render(value, context));
    let body: string | undefined;
    if (step.json !== undefined) {
      body = JSON.stringify(renderDeep(step.json, context));
      headers['content-type'] ??= 'application/json';
    }
    const res = await exchange(
      dispatcher,
      {
        method: step.method as Dispatcher.HttpMethod,
        path,
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      },
      now,
    );
    sentMs = res.sentMs;
    const { text, status, doneMs } = res;
    const expected = step.status ? step.status.includes(status) : status < 400;
    const captured: Record<string, unknown> = {};
    let checkFailed = !expected;
    const json = (step.capture || step.expect) && expected ? safeJson(text) : undefined;
    for (const [query, want] of Object.entries(step.expect ?? {})) {
      const found = json === undefined ? undefined : JSONPath({ path: query, json, wrap: false });
      const ok = want === 'exists' ? found !== undefined : JSON.stringify(found) === JSON.stringify(want);
      if (!ok) checkFailed = true;
    }
    if (step.capture && expected) {
      for (const [name, query] of Object.entries(step.capture)) {
        const value = json === undefined ? undefined : JSONPath({ path: query, json, wrap: false });
        if (value === undefined) checkFailed = true;
        else captured[name] = value;
      }
    }
    return { method: step.method, path, issuedMs, sentMs, doneMs, status, checkFailed, captured };
  } catch (error) {
    return {
      method: step.method,
      path,
      issuedMs,
      sentMs,
      doneMs: now(),
      checkFailed: true,
      captured: {},
      error: (error as Error).message,
    };
  }
}

/**
 * One request through undici's dispatch API, so that `sentMs` is when the request went onto a socket (not
 * when it joined the pool's queue): the raw latency of wrk2, measured from the actual send.
 */
function exchange(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  now: () => number,
): Promise<{ status: number; text: string; sentMs: number; doneMs: number }> {
  return new Promise((resolve, reject) => {
    let sentMs = now();
    let status = 0;
    const chunks: Buffer[] = [];
    dispatcher.dispatch(options, {
      onRequestStart() {
        sentMs = now();
      },
      onResponseStart(_controller, statusCode) {
        status = statusCode;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        resolve({ status, text: Buffer.concat(chunks).toString('utf8'), sentMs, doneMs: now() });
      },
      onResponseError(_controller, error) {
        reject(error);
      },
    });
  });
}

function safeJson(text: string): object | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}
