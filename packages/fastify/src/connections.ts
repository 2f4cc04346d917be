// Connection hygiene: deliberate header, body and keep-alive timeouts, problem+json answers to what Node's
// HTTP parser refuses (`clientError`), and a close that serves requests sent before it and drops connections
// that hold it up.

import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Clock, Timer } from '@headroom/core/clock';
import { deprecatedOption, invalidOption } from '@headroom/core/errors';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { FastifyErrorCode } from './errors.ts';
import { bareProblem, problemContentType, requestPath } from './problem.ts';

/**
 * Timeouts of every connection, in ms; each bounds how long a slow or silent client can hold one. The names
 * are Node's own (`server.headersTimeout`, `requestTimeout`, `keepAliveTimeout`).
 */
export interface ConnectionTimeouts {
  /** The request line and headers must arrive within this. @default 10000 */
  headersTimeout: number;
  /** The whole request, body included, must arrive within this; else 408 and the connection closes. @default 30000 */
  requestTimeout: number;
  /**
   * An idle kept-alive connection is closed after this. Longer than the usual load balancer idle timeout
   * (60 s), so the balancer, not the server, closes first and never sends on a dying connection. @default 72000
   */
  keepAliveTimeout: number;
  /** How often Node checks the header and request timeouts; a timeout fires at most this late. @default 1000 */
  checkInterval: number;
  /** Largest request line plus headers, in bytes; beyond it, 431. @default 16384 */
  maxHeaderBytes: number;
}

/** @see ConnectionTimeouts */
export const defaultConnectionTimeouts: Readonly<ConnectionTimeouts> = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 72_000,
  checkInterval: 1_000,
  maxHeaderBytes: 16_384,
};

/** What {@link connectionOptions} takes: any of the timeouts, also under the names they had before. */
export interface ConnectionOptionsInput extends Partial<ConnectionTimeouts> {
  /** @deprecated renamed `headersTimeout` (same unit); this name goes in the next release. */
  headersTimeoutMs?: number;
  /** @deprecated renamed `requestTimeout` (same unit); this name goes in the next release. */
  requestTimeoutMs?: number;
  /** @deprecated renamed `keepAliveTimeout` (same unit); this name goes in the next release. */
  keepAliveTimeoutMs?: number;
  /** @deprecated renamed `checkInterval` (same unit); this name goes in the next release. */
  checkIntervalMs?: number;
}

const renamed = [
  ['headersTimeoutMs', 'headersTimeout'],
  ['requestTimeoutMs', 'requestTimeout'],
  ['keepAliveTimeoutMs', 'keepAliveTimeout'],
  ['checkIntervalMs', 'checkInterval'],
] as const;

/** The Fastify server options returned by {@link connectionOptions}. */
export type ConnectionServerOptions = Required<
  Pick<
    FastifyServerOptions,
    'keepAliveTimeout' | 'requestTimeout' | 'clientErrorHandler' | 'return503OnClosing'
  >
> & { http: import('node:http').ServerOptions };

/**
 * Fastify server options that bound every connection: header, request and keep-alive timeouts (Fastify's
 * own default has no request timeout at all, so a body shorter than its Content-Length holds a connection
 * forever), problem+json answers to requests Node's parser refuses (400 HR_BAD_REQUEST, 408
 * HR_REQUEST_TIMEOUT, 431 HR_HEADERS_TOO_LARGE), and no plain-JSON 503 while closing: the `headroom`
 * plugin answers those with a problem (HR_SHUTTING_DOWN).
 *
 * @example
 * const app = Fastify({ ...requestIdOptions(), ...connectionOptions({ requestTimeout: 10_000 }) });
 */
export function connectionOptions(overrides: ConnectionOptionsInput = {}): ConnectionServerOptions {
  const t: ConnectionTimeouts = { ...defaultConnectionTimeouts };
  for (const [old, name] of renamed) {
    t[name] = overrides[name] ?? deprecatedOption('connectionOptions', old, name, overrides[old]) ?? t[name];
  }
  t.maxHeaderBytes = overrides.maxHeaderBytes ?? t.maxHeaderBytes;
  for (const [name, value] of Object.entries(t)) {
    if (!(Number.isInteger(value) && value > 0)) {
      throw invalidOption('connectionOptions', name, 'a positive integer', value);
    }
  }
  if (t.headersTimeout > t.requestTimeout) {
    throw invalidOption('connectionOptions', 'headersTimeout', 'at most requestTimeout', t.headersTimeout);
  }
  return {
    keepAliveTimeout: t.keepAliveTimeout,
    requestTimeout: t.requestTimeout,
    http: {
      headersTimeout: t.headersTimeout,
      connectionsCheckingInterval: t.checkInterval,
      maxHeaderSize: t.maxHeaderBytes,
      // Node answers a missing Host with a bare 400 of its own; the plugin answers it with a problem instead.
      requireHostHeader: false,
    },
    clientErrorHandler: answerClientError,
    return503OnClosing: false,
  };
}

const parserProblems: Record<string, { code: FastifyErrorCode; detail: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    code: 'HR_REQUEST_TIMEOUT',
    detail: 'the request (headers and body) did not arrive in time',
  },
  HPE_HEADER_OVERFLOW: {
    code: 'HR_HEADERS_TOO_LARGE',
    detail: 'the request line and headers are larger than the server accepts',
  },
};

/**
 * The `clientError` handler: a problem+json answer, then the connection is closed (the parser cannot
 * continue after an error). No route ran, so there is no request id; the detail never echoes the input.
 *
 * @example
 * const app = Fastify({ clientErrorHandler: answerClientError });
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = error.code ? parserProblems[error.code] : undefined;
  const { code, detail } = known ?? {
    code: 'HR_BAD_REQUEST',
    detail: 'the request is not valid HTTP/1.1 (request line, headers or body framing)',
  };
  const { status, body } = bareProblem(code, detail);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: ${problemContentType}; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Answers requests whose `Expect` the server does not meet (anything but `100-continue`) with a 417
 * HR_EXPECTATION_FAILED problem; without a listener Node writes a bare 417 itself, before any hook runs.
 *
 * @example
 * answerUnmetExpectations(app.server);
 */
export function answerUnmetExpectations(server: import('node:http').Server): void {
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const { status, body } = bareProblem(
      'HR_EXPECTATION_FAILED',
      'the server meets no Expect but 100-continue',
      requestPath(request.url ?? '/'),
    );
    response.writeHead(status, {
      'content-type': `${problemContentType}; charset=utf-8`,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      connection: 'close',
    });
    response.end(body);
  });
}

/** What the plugin needs to close connections at shutdown. */
export interface ConnectionDrain {
  /** Call on every request (onRequest): remembers which request each connection carries. */
  track(socket: Socket | undefined, response: import('node:http').ServerResponse): void;
  /** True once the app began closing. */
  readonly closing: boolean;
  /**
   * Whether a request on `socket` is refused (503 HR_SHUTTING_DOWN): once the listener closed, unless the
   * connection was still bringing a request then (that request was sent before the listener closed). While the
   * close waits for requests on their way, every request is served, each answer closing its connection.
   */
  refuses(socket: Socket | undefined): boolean;
}

/**
 * How long the close waits for requests that were on their way when it began, in ms: the close goes on at the
 * first moment no connection is part-way through bringing a request, or after this (bounded by `drainTimeout`).
 */
export const arrivalGrace = 250;

/**
 * At close: waits for a moment when no connection is part-way through bringing a request (at most
 * `arrivalGrace`; requests that arrive meanwhile are served, each answer closing its connection), then drops
 * every connection that is not running a handler (idle after an answer, or still bringing a request past the
 * grace: a request that never finishes arriving must not hold shutdown), lets handlers that run finish for up to
 * `drainTimeout` ms, then drops the rest.
 *
 * The wait is for a request sent just before the listener closed: a connection the kernel accepted, or one
 * whose request is in its buffer, would otherwise be reset by the close (Node's `server.close()` destroys every
 * connection with no request parsed yet), and a balancer would answer 502 for a request sent in time.
 *
 * @example
 * const drain = drainConnections(app, { clock, drainTimeout: 10_000 });
 */
export function drainConnections(
  app: FastifyInstance,
  options: { clock: Clock; drainTimeout: number },
): ConnectionDrain {
  const sockets = new Set<Socket>();
  const current = new WeakMap<Socket, import('node:http').ServerResponse>();
  const arriving = new WeakSet<Socket>();
  let closing = false;
  // Set once the wait is over and the listener closes: from then on, only requests already on their way are served.
  let closed = false;
  let force: Timer | undefined;
  let wait: Timer | undefined;
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Running a handler: its request arrived whole and its answer is not all written yet.
  const busy = (socket: Socket) => {
    const response = current.get(socket);
    return response?.req.complete === true && !response.writableFinished;
  };
  // Part-way through bringing a request: no answer yet, and no whole request (none begun, or one half-sent).
  const bringing = (socket: Socket) => {
    const response = current.get(socket);
    return response === undefined ? socket.bytesWritten === 0 : !response.req.complete;
  };
  app.addHook('preClose', function dropWaitingConnections(done) {
    closing = true;
    force = options.clock.setTimeout(() => app.server.closeAllConnections(), options.drainTimeout);
    const until = options.clock.now() + Math.min(arrivalGrace, options.drainTimeout);
    const settle = () => {
      let waiting = false;
      for (const socket of sockets) {
        if (busy(socket)) {
          const response = current.get(socket);
          // Its answer ends the connection, so a kept-alive client does not hold it open until drainTimeout.
          if (response && !response.headersSent) response.setHeader('connection', 'close');
        } else if (bringing(socket)) {
          arriving.add(socket);
          waiting = true;
        }
      }
      if (waiting && options.clock.now() < until) {
        wait = options.clock.setTimeout(settle, 1);
        return;
      }
      closed = true;
      for (const socket of sockets) if (!busy(socket)) socket.destroy();
      done();
    };
    settle();
  });
  app.addHook('onClose', function stopDrainTimer(_instance, done) {
    force?.cancel();
    wait?.cancel();
    done();
  });
  return {
    track(socket, response) {
      if (socket) current.set(socket, response);
    },
    get closing() {
      return closing;
    },
    refuses(socket) {
      return closed && !(socket && arriving.has(socket));
    },
  };
}
