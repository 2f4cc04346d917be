// HTTP/1.1 responses read off a socket byte by byte, for the lean client (http1-pool.ts): the status, the
// body (Content-Length, chunked, or up to the close) and whether the connection may carry another request.
// Only the headers that frame the message are read (and `Server-Timing` when a route has phase budgets); the
// body is kept only when asked for.

import type { ServerTimingPhases } from './server-timing.ts';

/** Receives each whole response. */
export interface ResponseSink {
  /**
   * `timings`: the asked-for phases' durations in ms (NaN: the phase did not run), when the response carried a
   * `Server-Timing` header; the parser reuses the array, so it is valid during the call only.
   */
  onResponse(status: number, body: Buffer | undefined, keepAlive: boolean, timings?: Float64Array): void;
}

/** A response that breaks HTTP/1.1 framing; the connection cannot be trusted after it. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

const IDLE = 0;
const HEAD = 1;
const LENGTH = 2;
const CHUNK_SIZE = 3;
const CHUNK_DATA = 4;
const CHUNK_END = 5;
const TRAILERS = 6;
const UNTIL_CLOSE = 7;
/** The head said there is no body: the response is complete. */
const NO_BODY = 8;

const CR = 13;
const LF = 10;
const maxHeadBytes = 64 * 1024;
const headEnd = Buffer.from('\r\n\r\n');
const lower = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const contentLength = lower('content-length');
const transferEncoding = lower('transfer-encoding');
const connection = lower('connection');
const keepAliveName = lower('keep-alive');
const chunked = lower('chunked');
const close = lower('close');
const timeoutEquals = lower('timeout=');
const serverTiming = lower('server-timing');

/** The headers the parser reads, by number; 0: any other, read past. */
const CONTENT_LENGTH = 1;
const TRANSFER_ENCODING = 2;
const CONNECTION = 3;
const KEEP_ALIVE = 4;
const SERVER_TIMING = 5;
const fieldNames = [
  new Uint8Array(0),
  contentLength,
  transferEncoding,
  connection,
  keepAliveName,
  serverTiming,
];

/**
 * Parses the answers to requests sent one at a time on one connection.
 *
 * @example
 * const parser = new ResponseParser({ onResponse: (status, body, keepAlive) => {} });
 * parser.expect(true, false);
 * parser.execute(chunk, 0, chunk.length);
 */
export class ResponseParser {
  /** The server's `Keep-Alive: timeout=` hint in ms, from the last response that gave one. */
  keepAliveHintMs: number | undefined;
  readonly #sink: ResponseSink;
  #state = IDLE;
  #keepBody = false;
  #headRequest = false;
  #partialHead: Buffer | undefined;
  #status = 0;
  #keepAlive = true;
  /** Bytes left in the body (LENGTH) or in the chunk (CHUNK_DATA). */
  #remaining = 0;
  #chunkSize = 0;
  #sizeDigits = 0;
  #inExtension = false;
  #lineLength = 0;
  #body: Buffer | undefined;
  #bodyAt = 0;
  #chunks: Buffer[] = [];
  /** The phases to read from `Server-Timing`, when the request's route has budgets for some. */
  #phases: ServerTimingPhases | undefined;
  /** Their durations, reused from response to response (grown when a route has more phases). */
  #timings = new Float64Array(0);
  #timed = false;

  constructor(sink: ResponseSink) {
    this.#sink = sink;
  }

  /** Whether no response is under way (nothing expected, or the last one complete). */
  get idle(): boolean {
    return this.#state === IDLE;
  }

  /**
   * Reads the answer to a request just sent: keep its body or skip it; a HEAD answer has no body; read these
   * `phases` from its `Server-Timing` header (none: the header is skipped like any other).
   */
  expect(keepBody: boolean, headRequest: boolean, phases?: ServerTimingPhases): void {
    this.#state = HEAD;
    this.#keepBody = keepBody;
    this.#headRequest = headRequest;
    this.#phases = phases;
  }

  /** Feeds `data[start, end)`; throws a ProtocolError when the bytes are not a valid response. */
  execute(data: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end) {
      switch (this.#state) {
        case IDLE:
          throw new ProtocolError('data arrived with no request in flight');
        case HEAD:
          at = this.#readHead(data, at, end);
          if ((this.#state as number) === NO_BODY) this.#complete(at < end);
          break;
        case LENGTH:
          at = this.#take(data, at, end);
          if (this.#remaining === 0) this.#complete(at < end);
          break;
        case CHUNK_SIZE:
          at = this.#readChunkSize(data, at, end);
          break;
        case CHUNK_DATA:
          at = this.#take(data, at, end);
          if (this.#remaining === 0) {
            this.#state = CHUNK_END;
            this.#lineLength = 0;
          }
          break;
        case CHUNK_END: {
          // The CRLF after a chunk's data, possibly split between reads.
          const byte = data[at++]!;
          if (byte === LF) {
            this.#state = CHUNK_SIZE;
            this.#startChunkSize();
          } else if (byte !== CR || this.#lineLength++ > 0)
            throw new ProtocolError('chunk not followed by CRLF');
          break;
        }
        case TRAILERS: {
          // Trailer lines up to an empty one; their content is not needed.
          const byte = data[at++]!;
          if (byte === LF) {
            if (this.#lineLength === 0) this.#complete(at < end);
            this.#lineLength = 0;
          } else if (byte !== CR) this.#lineLength++;
          break;
        }
        case UNTIL_CLOSE:
          this.#keep(data, at, end);
          at = end;
          break;
      }
    }
  }

  /**
   * The server closed the connection: completes a body that runs up to the close. Throws when a response was
   * cut short.
   */
  finish(): void {
    if (this.#state === UNTIL_CLOSE) this.#complete(false);
    else if (this.#state !== IDLE) {
      this.#state = IDLE;
      throw new ProtocolError('the server closed the connection before the response ended');
    }
  }

  /**
   * The head from `data[start, end)`; returns where the body starts, or `end` when the head goes on in a later
   * read. A head within one read is parsed by the pass that finds its end (no separate search for the blank
   * line first); one split across reads is searched for its end in the new bytes only, then parsed whole, so
   * a head that trickles in costs its length, not its length squared.
   */
  #readHead(data: Buffer, start: number, end: number): number {
    const earlier = this.#partialHead;
    if (earlier === undefined) {
      const after = this.#parseHead(data, start, end);
      if (after >= 0) return after;
      this.#keepPartialHead(data, start, end);
      return end;
    }
    const buffer = Buffer.concat([earlier, data.subarray(start, end)]);
    const found = buffer.indexOf(headEnd, Math.max(0, earlier.length - 3));
    if (found < 0) {
      this.#keepPartialHead(buffer, 0, buffer.length);
      return end;
    }
    this.#partialHead = undefined;
    const after = this.#parseHead(buffer, 0, found + 4);
    // Where the body starts in `data`: the head began in an earlier read.
    return end - (buffer.length - after);
  }

  #keepPartialHead(buffer: Buffer, from: number, to: number): void {
    if (to - from > maxHeadBytes) throw new ProtocolError(`response head over ${maxHeadBytes} bytes`);
    this.#partialHead = Buffer.from(buffer.subarray(from, to));
  }

  /**
   * The status line and framing headers of the head starting at `buffer[from]`; returns where the blank line
   * that ends it ends, or -1 when it does not end before `to` (then nothing but the keep-alive hint is kept).
   */
  #parseHead(buffer: Buffer, from: number, to: number): number {
    // Lines are found with `indexOf` (memchr: several times faster than a loop over the bytes in JavaScript,
    // call included), and a header is recognised by its first letter and a colon right after its name, so
    // the bytes of the headers not read (Date, Content-Type) are never walked in JavaScript. The read buffer
    // holds stale bytes past `to`: a line break found there does not count.
    const statusEnd = buffer.indexOf(LF, from);
    if (statusEnd < 0 || statusEnd >= to) return -1;
    if (
      statusEnd - from < 12 ||
      buffer[from] !== 72 || // H
      buffer[from + 4] !== 47 || // /
      buffer[from + 5] !== 49 || // 1
      buffer[from + 6] !== 46 || // .
      buffer[from + 8] !== 32 // space
    )
      throw new ProtocolError('not an HTTP/1.x status line');
    const minor = buffer[from + 7]! - 48;
    const status = digit(buffer, from + 9) * 100 + digit(buffer, from + 10) * 10 + digit(buffer, from + 11);
    let length = -1;
    let isChunked = false;
    let hasTransferEncoding = false;
    let closeAsked = false;
    let keepAliveAsked = false;
    const phases = this.#phases;
    this.#timed = false;
    let line = statusEnd + 1;
    for (;;) {
      const lineEnd = buffer.indexOf(LF, line);
      if (lineEnd < 0 || lineEnd >= to) return -1;
      // The head ends at the first CRLF CRLF: an empty line after a line that ended with CRLF.
      if (lineEnd === line + 1 && buffer[line] === CR && buffer[line - 2] === CR) {
        line = lineEnd + 1;
        break;
      }
      const field = fieldAt(buffer, line, lineEnd);
      if (field !== 0) {
        let valueStart = line + fieldNames[field]!.length + 1;
        let valueEnd = buffer[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
        while (valueStart < valueEnd && isSpace(buffer[valueStart]!)) valueStart++;
        while (valueEnd > valueStart && isSpace(buffer[valueEnd - 1]!)) valueEnd--;
        if (field === CONTENT_LENGTH) {
          const value = parseLength(buffer, valueStart, valueEnd);
          if (length >= 0 && value !== length) throw new ProtocolError('conflicting Content-Length headers');
          length = value;
        } else if (field === TRANSFER_ENCODING) {
          hasTransferEncoding = true;
          // Chunked must be the last coding applied.
          isChunked = valueEnd - valueStart >= 7 && matches(buffer, valueEnd - 7, chunked);
        } else if (field === CONNECTION) {
          if (hasToken(buffer, valueStart, valueEnd, close)) closeAsked = true;
          if (hasToken(buffer, valueStart, valueEnd, keepAliveName)) keepAliveAsked = true;
        } else if (field === KEEP_ALIVE) {
          const seconds = keepAliveTimeout(buffer, valueStart, valueEnd);
          if (seconds !== undefined) this.keepAliveHintMs = seconds * 1000;
        } else if (phases !== undefined) {
          this.#readTimings(phases, buffer, valueStart, valueEnd);
        }
      }
      line = lineEnd + 1;
    }
    if (status >= 100 && status < 200) {
      if (status === 101) throw new ProtocolError('101 Switching Protocols is not supported');
      this.#state = HEAD; // an interim answer (100 Continue, 103 Early Hints): the final one follows
      return line;
    }
    this.#status = status;
    this.#keepAlive = minor === 1 ? !closeAsked : keepAliveAsked && !closeAsked;
    this.#body = undefined;
    this.#bodyAt = 0;
    // A new array rather than `length = 0`: setting an array's length is a call into the runtime, per answer.
    if (this.#chunks.length > 0) this.#chunks = [];
    if (this.#headRequest || status === 204 || status === 304 || (length === 0 && !hasTransferEncoding))
      this.#state = NO_BODY;
    else if (isChunked) {
      this.#state = CHUNK_SIZE;
      this.#startChunkSize();
    } else if (length >= 0 && !hasTransferEncoding) {
      this.#state = LENGTH;
      this.#remaining = length;
      if (this.#keepBody) this.#body = Buffer.allocUnsafe(length);
    } else {
      this.#state = UNTIL_CLOSE;
      this.#keepAlive = false;
    }
    return line;
  }

  /** One `Server-Timing` line (a response may send several; their phases add up). */
  #readTimings(phases: ServerTimingPhases, buffer: Buffer, from: number, to: number): void {
    if (!this.#timed) {
      if (this.#timings.length < phases.names.length) this.#timings = new Float64Array(phases.names.length);
      this.#timings.fill(Number.NaN);
      this.#timed = true;
    }
    phases.read(buffer, from, to, this.#timings);
  }

  #startChunkSize(): void {
    this.#chunkSize = 0;
    this.#sizeDigits = 0;
    this.#inExtension = false;
    this.#lineLength = 0;
  }

  /** A chunk-size line (hex digits, maybe `;extensions`), possibly split between reads. */
  #readChunkSize(data: Buffer, start: number, end: number): number {
    let at = start;
    while (at < end) {
      const byte = data[at++]!;
      if (byte === LF) {
        if (this.#sizeDigits === 0) throw new ProtocolError('chunk size missing');
        if (this.#chunkSize === 0) {
          this.#state = TRAILERS;
          this.#lineLength = 0;
        } else {
          this.#state = CHUNK_DATA;
          this.#remaining = this.#chunkSize;
        }
        return at;
      }
      if (byte === CR || this.#inExtension) continue;
      if (byte === 59 /* ; */ || byte === 32 || byte === 9) {
        this.#inExtension = true;
        continue;
      }
      const value = hexValue(byte);
      if (value < 0 || this.#sizeDigits >= 12) throw new ProtocolError('invalid chunk size');
      this.#chunkSize = this.#chunkSize * 16 + value;
      this.#sizeDigits++;
    }
    return at;
  }

  /** Up to `#remaining` body bytes from `data[at, end)`; returns where the rest starts. */
  #take(data: Buffer, at: number, end: number): number {
    const to = at + Math.min(this.#remaining, end - at);
    this.#keep(data, at, to);
    this.#remaining -= to - at;
    return to;
  }

  #keep(data: Buffer, from: number, to: number): void {
    if (!this.#keepBody || to === from) return;
    if (this.#body) {
      data.copy(this.#body, this.#bodyAt, from, to);
      this.#bodyAt += to - from;
    } else this.#chunks.push(Buffer.from(data.subarray(from, to)));
  }

  /** A whole response; `trailing` bytes after it mean the server is out of step, so the connection closes. */
  #complete(trailing: boolean): void {
    this.#state = IDLE;
    let body: Buffer | undefined;
    if (this.#keepBody) body = this.#body ?? Buffer.concat(this.#chunks);
    this.#body = undefined;
    if (this.#chunks.length > 0) this.#chunks = [];
    this.#sink.onResponse(
      this.#status,
      body,
      this.#keepAlive && !trailing,
      this.#timed ? this.#timings : undefined,
    );
  }
}

function digit(buffer: Buffer, at: number): number {
  const value = buffer[at]! - 48;
  if (!(value >= 0 && value <= 9)) throw new ProtocolError('invalid status code');
  return value;
}

/** Which of the headers read the line `buffer[line, lineEnd)` is (0: another): its name, then a colon. */
function fieldAt(buffer: Buffer, line: number, lineEnd: number): number {
  switch (buffer[line]! | 0x20) {
    case 99: // c
      if (isField(buffer, line, lineEnd, contentLength)) return CONTENT_LENGTH;
      return isField(buffer, line, lineEnd, connection) ? CONNECTION : 0;
    case 116: // t
      return isField(buffer, line, lineEnd, transferEncoding) ? TRANSFER_ENCODING : 0;
    case 107: // k
      return isField(buffer, line, lineEnd, keepAliveName) ? KEEP_ALIVE : 0;
    case 115: // s
      return isField(buffer, line, lineEnd, serverTiming) ? SERVER_TIMING : 0;
    default:
      return 0;
  }
}

function isField(buffer: Buffer, line: number, lineEnd: number, name: Uint8Array): boolean {
  return line + name.length < lineEnd && buffer[line + name.length] === 58 && matches(buffer, line, name);
}

function isSpace(byte: number): boolean {
  return byte === 32 || byte === 9;
}

/** Whether `buffer` at `at` holds `name` (lower case), ignoring ASCII case. */
function matches(buffer: Buffer, at: number, name: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) if ((buffer[at + i]! | 0x20) !== name[i]) return false;
  return true;
}

/** Whether the comma-separated list in `buffer[from, to)` holds `token`. */
function hasToken(buffer: Buffer, from: number, to: number, token: Uint8Array): boolean {
  let at = from;
  while (at < to) {
    while (at < to && (isSpace(buffer[at]!) || buffer[at] === 44)) at++;
    let itemEnd = at;
    while (itemEnd < to && buffer[itemEnd] !== 44) itemEnd++;
    let trimmed = itemEnd;
    while (trimmed > at && isSpace(buffer[trimmed - 1]!)) trimmed--;
    if (trimmed - at === token.length && matches(buffer, at, token)) return true;
    at = itemEnd + 1;
  }
  return false;
}

function parseLength(buffer: Buffer, from: number, to: number): number {
  if (to === from || to - from > 15) throw new ProtocolError('invalid Content-Length');
  let value = 0;
  for (let at = from; at < to; at++) {
    const d = buffer[at]! - 48;
    if (!(d >= 0 && d <= 9)) throw new ProtocolError('invalid Content-Length');
    value = value * 10 + d;
  }
  return value;
}

/** Seconds of `timeout=N` in a Keep-Alive header value, if there. */
function keepAliveTimeout(buffer: Buffer, from: number, to: number): number | undefined {
  for (let at = from; at + timeoutEquals.length <= to; at++) {
    if (!matches(buffer, at, timeoutEquals)) continue;
    let value = 0;
    let digits = 0;
    for (let d = at + timeoutEquals.length; d < to && buffer[d]! >= 48 && buffer[d]! <= 57; d++, digits++)
      value = value * 10 + buffer[d]! - 48;
    return digits > 0 ? value : undefined;
  }
  return undefined;
}

function hexValue(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48;
  const letter = byte | 0x20;
  if (letter >= 97 && letter <= 102) return letter - 87;
  return -1;
}
