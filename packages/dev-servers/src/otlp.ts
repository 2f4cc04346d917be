// A small OTLP/HTTP trace receiver on a free loopback port: what an OpenTelemetry Collector's `otlp` receiver
// does for `POST /v1/traces` with `application/json` (OTEL_EXPORTER_OTLP_PROTOCOL=http/json), keeping the spans
// in memory for a test to read. The Collector itself is not in npm or Debian; this speaks the same wire format
// (https://opentelemetry.io/docs/specs/otlp/#otlphttp), so the SDK's real exporter is what is under test.

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './until.ts';

/** A span as received, its attributes flattened to plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string }[];
  status: { code?: number; message?: string };
  /** The resource's attributes (service.name, …). */
  resource: Record<string, unknown>;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: set it as OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Every span received so far, in arrival order. */
  readonly spans: readonly ReceivedSpan[];
  /** Export requests received, and those refused as malformed. */
  readonly requests: { accepted: number; refused: number };
  /** Spans received by name (kept even when `keepSpans` is false). */
  readonly counts: ReadonlyMap<string, number>;
  /** Resolves with the spans once `predicate` holds for them (polling; 10 s by default). */
  waitFor(
    predicate: (spans: readonly ReceivedSpan[]) => boolean,
    timeout?: number,
  ): Promise<readonly ReceivedSpan[]>;
  close(): Promise<void>;
}

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
};
type KeyValue = { key: string; value: AnyValue };

const plain = (v: AnyValue): unknown => {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(plain);
  return undefined;
};
const flat = (kvs: KeyValue[] | undefined) =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, plain(kv.value)]));

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts the receiver on 127.0.0.1.
 *
 * @example
 * const otlp = await startOtlpReceiver();
 * process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
 * await otlp.waitFor((spans) => spans.some((s) => s.name === 'GET /v1/cases/:id'));
 */
export async function startOtlpReceiver(options: { keepSpans?: boolean } = {}): Promise<OtlpReceiver> {
  const keep = options.keepSpans ?? true;
  const spans: ReceivedSpan[] = [];
  const counts = new Map<string, number>();
  const requests = { accepted: 0, refused: 0 };
  const server = createServer(async (request, response) => {
    // The counts, for a receiver running in a process of its own (a bench's).
    if (request.method === 'GET' && request.url === '/stats') {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ requests, spans: Object.fromEntries(counts) }));
      return;
    }
    if (request.method !== 'POST' || request.url !== '/v1/traces') {
      response.writeHead(404).end();
      return;
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      requests.refused++;
      response.writeHead(415).end();
      return;
    }
    try {
      const payload = JSON.parse(await body(request)) as {
        resourceSpans?: {
          resource?: { attributes?: KeyValue[] };
          scopeSpans?: { spans?: Record<string, unknown>[] }[];
        }[];
      };
      for (const rs of payload.resourceSpans ?? []) {
        const resource = flat(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            counts.set(String(s.name), (counts.get(String(s.name)) ?? 0) + 1);
            if (!keep) continue;
            spans.push({
              traceId: String(s.traceId),
              spanId: String(s.spanId),
              parentSpanId: String(s.parentSpanId ?? ''),
              name: String(s.name),
              kind: Number(s.kind),
              attributes: flat(s.attributes as KeyValue[]),
              events: ((s.events ?? []) as { name: string; attributes?: KeyValue[] }[]).map((e) => ({
                name: e.name,
                attributes: flat(e.attributes),
              })),
              links: ((s.links ?? []) as { traceId: string; spanId: string }[]).map((l) => ({
                traceId: l.traceId,
                spanId: l.spanId,
              })),
              status: (s.status ?? {}) as ReceivedSpan['status'],
              resource,
            });
          }
        }
      }
      requests.accepted++;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } catch {
      requests.refused++;
      response.writeHead(400).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    counts,
    async waitFor(predicate, timeout = 10_000) {
      await until(() => predicate(spans), { timeout, what: 'the spans the test expects' });
      return spans;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
