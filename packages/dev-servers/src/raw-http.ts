// Raw bytes to an HTTP server over a plain socket, for the requests no HTTP client will send: half bodies,
// bad chunking, broken request lines, oversized headers.

import { connect } from 'node:net';

/** What came back before the server closed the connection. */
export interface RawAnswer {
  /** The first answer's status, or undefined when the server closed without answering. */
  status: number | undefined;
  /** The first answer's headers, names lower-cased. */
  headers: Record<string, string>;
  /** Everything after the first answer's header block (a second answer would follow its body). */
  body: string;
  /** Milliseconds from the last byte written until the server closed the connection. */
  closedAfterMs: number;
}

/**
 * Writes `bytes` (latin1) to 127.0.0.1:`port` and reads until the server closes the connection. Rejects when
 * the server holds it longer than `limitMs`: a held connection is the failure these requests look for.
 *
 * @example
 * const answer = await rawRequest(port, 'POST /v1/cases HTTP/1.1\r\ncontent-length: 100\r\n\r\n{"a":');
 * answer.status; // 408
 */
export function rawRequest(port: number, bytes: string, limitMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let data = '';
    let sentAt = performance.now();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`the server held the connection for ${limitMs} ms; it had sent ${JSON.stringify(data)}`),
      );
    }, limitMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parseAnswer(data), closedAfterMs: performance.now() - sentAt });
    });
    socket.write(bytes, 'latin1', () => {
      sentAt = performance.now();
    });
  });
}

function parseAnswer(data: string): Omit<RawAnswer, 'closedAfterMs'> {
  const end = data.indexOf('\r\n\r\n');
  const head = end === -1 ? data : data.slice(0, end);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const match = statusLine ? /^HTTP\/1\.[01] (\d{3})/.exec(statusLine) : null;
  return {
    status: match ? Number(match[1]) : undefined,
    headers,
    body: end === -1 ? '' : data.slice(end + 4),
  };
}
