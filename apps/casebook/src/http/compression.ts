// Response compression (br, gzip) through @fastify/compress, and the entity tags that go with it: an
// encoded body is another representation, so it carries another strong tag (RFC 9110 §8.8.3).

import zlib from 'node:zlib';
import { negotiate } from '@fastify/accept-negotiator';
import compress from '@fastify/compress';
import { bytesEtag, type HttpCacheOptions } from '@headroom/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';

/** Bodies smaller than this are sent as they are: compressing them saves little and costs CPU. */
export const compressionThreshold = 1024;

/** In order of preference: brotli (quality 4, the plugin's default) is smaller at a similar cost. */
const codings: Coding[] = ['br', 'gzip'];
type Coding = 'br' | 'gzip';

// Given to @fastify/compress and used for the kept codings alike, so that both makers of a coding of the same
// bytes make the same bytes, as its strong tag promises. zlib's defaults for gzip.
const brotliOptions = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } };
const encoders: Record<Coding, (bytes: Buffer) => Buffer> = {
  br: (bytes) => zlib.brotliCompressSync(bytes, brotliOptions),
  gzip: (bytes) => zlib.gzipSync(bytes),
};

/**
 * Bodies from this size are compressed by the plugin on each request even when sent again and again: making
 * a kept coding is synchronous, and a big body would hold the event loop that long (once).
 */
export const keptCodingLimit = 256 * 1024;

// The codings of bodies sent again and again (a cache entry's bytes), made once each and kept while the
// bytes live: an L1 cache hit costs the same whether the client asked for br, gzip or neither. Not counted
// in the cache's size: about a quarter of the JSON per coding (a 20-row search page: 4,084 bytes, 1,004 in
// br, 1,027 in gzip).
const keptCodings = new WeakMap<Buffer, Partial<Record<Coding, Buffer>>>();

function keptCoding(bytes: Buffer, coding: Coding): Buffer {
  let kept = keptCodings.get(bytes);
  if (kept === undefined) {
    kept = {};
    keptCodings.set(bytes, kept);
  }
  kept[coding] ??= encoders[coding](bytes);
  return kept[coding];
}

// What @fastify/compress reads as gzip before negotiating (`*`, and the old `x-gzip` alias).
const gzipAlias = /\*|x-gzip/gu;
const jsonType = /^application\/json(?:;|$)/;

/**
 * The strong tag of a body sent in `coding`: the identity tag with `-<coding>` inside the quotes
 * (`"T"` → `"T-gzip"`), as Apache's mod_deflate does. Weak tags stay as they are: they already claim only
 * semantic equivalence, which every coding of the same bytes has.
 *
 * @example
 * codedEtag('"3-AbCdEfGhIjKlMnOp"', 'br') // '"3-AbCdEfGhIjKlMnOp-br"'
 */
export function codedEtag(etag: string, coding: Coding): string {
  return etag.startsWith('"') ? `${etag.slice(0, -1)}-${coding}"` : etag;
}

/**
 * The content coding @fastify/compress will choose for `request`, or undefined for none: the same
 * negotiator over the same list, so a tag and the body it names agree.
 */
function negotiatedCoding(request: FastifyRequest): Coding | undefined {
  if (request.headers['x-no-compression'] !== undefined) return undefined;
  const header = request.headers['accept-encoding'];
  if (header === undefined) return undefined;
  return negotiate(header.toLowerCase().replace(gzipAlias, 'gzip'), codings) ?? undefined;
}

/** A JSON success body large enough to compress: the answers whose bytes depend on Accept-Encoding. */
function compressible(reply: FastifyReply, payload: unknown): payload is string | Buffer {
  const status = reply.statusCode;
  if (status < 200 || status >= 300 || status === 204 || status === 206) return false;
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return false;
  const type = reply.getHeader('content-type');
  return (
    typeof type === 'string' && jsonType.test(type) && Buffer.byteLength(payload) >= compressionThreshold
  );
}

/**
 * The coding a compressible answer was tagged for (`identity`: none), kept on the reply until it is sent:
 * a decoration, so the reply's shape is fixed and no per-request WeakMap entry is left for the GC.
 */
const foreseenCoding: unique symbol = Symbol('casebook.foreseenCoding');

/** Whether the reply's body is bytes that are sent again and again as they are (`sendsKeptBytes`). */
const keptBytes: unique symbol = Symbol('casebook.keptBytes');

declare module 'fastify' {
  interface FastifyReply {
    [foreseenCoding]: Coding | 'identity' | undefined;
    [keptBytes]: boolean;
  }
}

/**
 * Says that `reply` sends bytes that are sent again and again, unchanged (a cache entry's): a client that
 * asks for br or gzip gets the coding made the first time and kept beside the bytes, not one made for it.
 * Only the very same Buffer finds its codings again.
 *
 * @example
 * sendJson(sendsKeptBytes(reply), entry.bytes, entry.etag);
 */
export function sendsKeptBytes<R extends FastifyReply>(reply: R): R {
  reply[keptBytes] = true;
  return reply;
}

type OnSend = NonNullable<RouteOptions['onSend']>;
type OnSendHook = (
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  done: (error: Error | null, payload?: unknown) => void,
) => void;

function hooksOf(onSend: RouteOptions['onSend']): OnSendHook[] {
  return (onSend === undefined ? [] : [onSend].flat()) as OnSendHook[];
}

/**
 * Registers @fastify/compress for every route registered after it (br and gzip, bodies from
 * {@link compressionThreshold} bytes; request bodies are not decompressed), with two onSend hooks of
 * casebook's around it:
 *
 * - before the HTTP cache hook: a compressible answer's ETag becomes the tag of the coding it will be
 *   sent in (`codedEtag`), so If-None-Match is compared with the tag of what this request would get and a
 *   304 carries that tag (RFC 9110 §15.4.5); an answer that is not 2xx is never compressed (problems
 *   stay cheap when they come in floods: 429, 503); a GET whose bytes are kept (`sendsKeptBytes`) is sent
 *   in the coding kept beside them, made on its first request;
 * - after compression: `Vary: accept-encoding` on every compressible answer, sent compressed or not, 304s
 *   included, beside the `Vary` the route already had; and the tag corrected should the plugin have sent
 *   another coding than the one foreseen.
 *
 * @example
 * await app.register(headroom, options);
 * await registerCompression(app); // then the routes
 */
export async function registerCompression(app: FastifyInstance): Promise<void> {
  app.decorateReply(foreseenCoding, undefined);
  app.decorateReply(keptBytes, false);

  function tagCoding(request: FastifyRequest, reply: FastifyReply, payload: unknown, done: DoneFn) {
    if (compressible(reply, payload)) {
      const coding = negotiatedCoding(request);
      reply[foreseenCoding] = coding ?? 'identity';
      if (coding !== undefined) {
        let etag = reply.getHeader('etag');
        // The HTTP cache hook would tag these bytes next; tag them here, for their coding.
        if (etag === undefined && wantsEtag(request, reply)) etag = bytesEtag(payload);
        if (typeof etag === 'string') reply.header('etag', codedEtag(etag, coding));
        // The plugin leaves a body that already has a Content-Encoding as it is. HEAD still describes the
        // identity representation, as the plugin leaves it.
        if (
          reply[keptBytes] &&
          request.method === 'GET' &&
          Buffer.isBuffer(payload) &&
          payload.length < keptCodingLimit
        ) {
          reply.header('content-encoding', coding);
          done(null, keptCoding(payload, coding));
          return;
        }
      }
    } else if (reply.statusCode >= 300) {
      // The plugin's documented switch; it reads it from the request.
      request.headers['x-no-compression'] = 'not 2xx';
    }
    done(null, payload);
  }

  // Vary is one string here (the HTTP cache hook's or the plugin's: the same few values every time), so what it
  // becomes is worked out once per distinct value, not on every cache hit; undefined: it names the coding already.
  let varyBefore: unknown;
  let varyAfter: string | undefined = 'accept-encoding';
  function varyCoding(_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: DoneFn) {
    const foreseen = reply[foreseenCoding];
    if (foreseen !== undefined) {
      reply[foreseenCoding] = undefined;
      const vary = reply.getHeader('vary');
      if (vary !== varyBefore) {
        varyBefore = vary;
        varyAfter =
          vary === undefined || vary === ''
            ? 'accept-encoding'
            : String(vary).toLowerCase().includes('accept-encoding')
              ? undefined
              : `${String(vary)}, accept-encoding`;
      }
      if (varyAfter !== undefined) reply.header('vary', varyAfter);
      const coding = foreseen === 'identity' ? undefined : foreseen;
      const sent = reply.getHeader('content-encoding') as Coding | undefined;
      const etag = reply.getHeader('etag');
      if (reply.statusCode !== 304 && sent !== coding && typeof etag === 'string' && etag.startsWith('"')) {
        const identity = coding === undefined ? etag : `${etag.slice(0, -(coding.length + 2))}"`;
        reply.header('etag', sent === undefined ? identity : codedEtag(identity, sent));
      }
    }
    done(null, payload);
  }

  // onRoute hooks run in the order they were added: the HTTP cache hook is already first in each route's
  // onSend list when this one puts tagCoding in front of it; the plugin then appends its own, and
  // varyCoding comes last.
  app.addHook('onRoute', function compressionTags(route) {
    route.onSend = [tagCoding, ...hooksOf(route.onSend)] as OnSend;
  });
  await app.register(compress, {
    global: true,
    brotliOptions,
    globalDecompression: false,
    encodings: codings,
    threshold: compressionThreshold,
  });
  app.addHook('onRoute', function compressionVary(route) {
    route.onSend = [...hooksOf(route.onSend), varyCoding] as OnSend;
  });
}

type DoneFn = (error: Error | null, payload?: unknown) => void;

/** Whether the HTTP cache hook would tag this answer from its bytes (a cacheable GET or HEAD 200). */
function wantsEtag(request: FastifyRequest, reply: FastifyReply): boolean {
  const httpCache = (request.routeOptions.config as { httpCache?: HttpCacheOptions }).httpCache;
  return (
    httpCache !== undefined &&
    reply.statusCode === 200 &&
    (request.method === 'GET' || request.method === 'HEAD')
  );
}
