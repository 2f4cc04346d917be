// The HTTP client of the upstream enrichment service (undici): one connection pool, a bounded body, and
// errors that say whether the upstream failed or answered nonsense.

import type { HeadroomError } from '@headroom/core/errors';
import { phase } from '@headroom/fastify';
import { Pool } from 'undici';
import { casebookErrors } from '../errors.ts';

/** One suggestion as the upstream sends it and casebook passes it on. */
export interface Suggestion {
  kind: string;
  ref: string;
  score: number;
}

/** What casebook needs of the upstream. */
export interface EnrichmentClient {
  suggestions(tenant: string, caseId: number, signal: AbortSignal): Promise<Suggestion[]>;
  close(): Promise<void>;
}

const maxBodyBytes = 64 * 1024;

// The route turns these into stale or partial answers; a client never sees them.
function upstreamFailed(detail: string, cause?: unknown): HeadroomError {
  return casebookErrors.create('HR_UPSTREAM_FAILED', `enrichment upstream: ${detail}`, { cause });
}

/**
 * A client of the enrichment service at `baseUrl` over a pool of `connections` keep-alive connections.
 *
 * @example
 * const enrichment = enrichmentClient('http://127.0.0.1:3100');
 * const list = await enrichment.suggestions('acme', 42, AbortSignal.timeout(300));
 */
export function enrichmentClient(baseUrl: string, options: { connections?: number } = {}): EnrichmentClient {
  const pool = new Pool(baseUrl, { connections: options.connections ?? 32, pipelining: 1 });
  const host = new URL(baseUrl).hostname;
  async function ask(tenant: string, caseId: number, signal: AbortSignal): Promise<Suggestion[]> {
    const path = `/v1/enrich/${encodeURIComponent(tenant)}/${caseId}`;
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await pool.request({ method: 'GET', path, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw upstreamFailed('no answer', error);
    }
    const { statusCode, body } = response;
    if (statusCode !== 200) {
      await body.dump();
      throw upstreamFailed(`status ${statusCode}`);
    }
    const length = Number(response.headers['content-length'] ?? 0);
    if (length > maxBodyBytes) {
      await body.dump();
      throw upstreamFailed(`body of ${length} bytes is over ${maxBodyBytes}`);
    }
    const parsed = (await body.json()) as { suggestions?: unknown };
    if (!Array.isArray(parsed.suggestions)) throw upstreamFailed('answer without a suggestions list');
    return parsed.suggestions.filter(isSuggestion);
  }
  return {
    // Phase `upstream` of the request; when traced, undici's own client span sits inside it.
    suggestions: (tenant, caseId, signal) =>
      phase('upstream', () => ask(tenant, caseId, signal), { 'server.address': host }),
    close: () => pool.close(),
  };
}

function isSuggestion(value: unknown): value is Suggestion {
  const s = value as Partial<Suggestion> | null;
  return typeof s?.kind === 'string' && typeof s.ref === 'string' && typeof s.score === 'number';
}

/** The client when no upstream is configured: every call fails, so suggestions answer `partial: true`. */
export const unreachableEnrichment: EnrichmentClient = {
  suggestions: () => Promise.reject(upstreamFailed('not configured')),
  close: async () => {},
};
