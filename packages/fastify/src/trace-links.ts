// Work that a request causes and that runs later (a job) keeps a link to the request's trace: the request carries
// its W3C `traceparent` with the work, and the work runs in a span of its own (a new trace, kind CONSUMER) linked
// to it, as OpenTelemetry's messaging conventions do for batch consumers. With no tracing, both are free.

import { type Attributes, context, type Link, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The `traceparent` of the active span, when it is sampled: store it with the work it causes.
 *
 * @example
 * await jobs.enqueue(tx, 'exports', { exportId, traceparent: currentTraceparent() }, { tenant });
 */
export function currentTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  if ((traceFlags & 1) === 0) return undefined;
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/**
 * Runs `work` in a new root span `name` (kind CONSUMER) linked to the span `traceparent` names, when tracing is
 * on; the sampler keeps a span linked to a sampled one. A missing or malformed `traceparent` makes an unlinked span.
 *
 * @example
 * jobs.work('exports', (job, signal) =>
 *   linkedSpan('exports process', job.payload.traceparent, { 'messaging.destination.name': 'exports' }, () => run(job, signal)));
 */
export function linkedSpan<T>(
  name: string,
  traceparent: string | undefined,
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  const match = traceparent === undefined ? null : traceparentPattern.exec(traceparent);
  const links: Link[] = match
    ? [
        {
          context: {
            traceId: match[1]!,
            spanId: match[2]!,
            traceFlags: Number.parseInt(match[3]!, 16),
            isRemote: true,
          },
        },
      ]
    : [];
  const tracer = trace.getTracer('@headroom/fastify');
  return tracer.startActiveSpan(
    name,
    { kind: SpanKind.CONSUMER, root: true, links, attributes },
    context.active(),
    async (span) => {
      try {
        return await work();
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * A job handler run in a span linked to the request that enqueued it: the job's payload carries `traceparent`
 * (see {@link currentTraceparent}). The span is `<queue> process`, with the queue, attempt and tenant.
 *
 * @example
 * jobs.work('exports', tracedJob(exportJob(db)));
 */
export function tracedJob<
  J extends { queue: string; tenant: string; attempt: number; payload: unknown },
  S,
  R,
>(handler: (job: J, signal: S) => Promise<R> | R): (job: J, signal: S) => Promise<R> {
  return (job, signal) =>
    linkedSpan(
      `${job.queue} process`,
      (job.payload as { traceparent?: string } | null)?.traceparent,
      {
        'messaging.system': 'headroom',
        'messaging.operation.type': 'process',
        'messaging.destination.name': job.queue,
        'app.tenant': job.tenant,
        'headroom.job.attempt': job.attempt,
      },
      async () => handler(job, signal),
    );
}
