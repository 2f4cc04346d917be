// A request as HTTP/1.1 bytes, checked as undici checks it: a request that would break framing (a newline
// in a header, a space in the path) throws instead of reaching the server.

import type { RequestParts } from './transport.ts';

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/;
const requestTarget = /^[\x21-\xff]+$/;
/** Framing is the client's business: these headers would contradict the bytes it sends. */
const framingHeaders = new Set(['content-length', 'transfer-encoding', 'upgrade', 'expect', 'keep-alive']);
const bodyMethods = new Set(['POST', 'PUT', 'PATCH']);

/**
 * The bytes of `parts` for `authority` (the Host header unless `parts.headers.host` is given). Header values
 * are written as latin1, the body as UTF-8 with its Content-Length.
 *
 * @example
 * serializeRequest({ method: 'GET', path: '/page', headers: {} }, '127.0.0.1:3000').toString()
 * // 'GET /page HTTP/1.1\r\nhost: 127.0.0.1:3000\r\nconnection: keep-alive\r\n\r\n'
 */
export function serializeRequest(parts: RequestParts, authority: string): Buffer {
  const { method, path, headers, body } = parts;
  if (!token.test(method)) throw new Error(`invalid request method ${JSON.stringify(method)}`);
  if (!requestTarget.test(path)) throw new Error(`invalid request path ${JSON.stringify(path)}`);
  let head = `${method} ${path} HTTP/1.1\r\n`;
  if (headers.host === undefined) head += `host: ${authority}\r\n`;
  if (headers.connection === undefined) head += 'connection: keep-alive\r\n';
  for (const [name, value] of Object.entries(headers)) {
    if (!token.test(name)) throw new Error(`invalid header name ${JSON.stringify(name)}`);
    if (!headerValue.test(value)) throw new Error(`invalid value of header ${name}`);
    const lower = name.toLowerCase();
    if (framingHeaders.has(lower)) throw new Error(`header ${name} is set by the client, not the scenario`);
    if (lower === 'connection' && value !== 'keep-alive' && value !== 'close')
      throw new Error(`connection: ${value} is not supported (keep-alive or close)`);
    head += `${name}: ${value}\r\n`;
  }
  if (body === undefined) {
    if (bodyMethods.has(method)) head += 'content-length: 0\r\n';
    return Buffer.from(`${head}\r\n`, 'latin1');
  }
  head += `content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const bytes = Buffer.allocUnsafe(head.length + Buffer.byteLength(body));
  bytes.write(head, 0, 'latin1');
  bytes.write(body, head.length, 'utf8');
  return bytes;
}
