// The `Server-Timing` response header (W3C Server Timing: `db;dur=3.4, serialize;dur=0.5`), read straight from
// the response head's bytes for the phases a route has budgets for. Nothing is allocated per response: names
// are compared as bytes and durations parsed in place, into a scratch array the reader owns.

const SPACE = 32;
const TAB = 9;
const COMMA = 44;
const SEMICOLON = 59;
const EQUALS = 61;
const QUOTE = 34;
const BACKSLASH = 92;
const dur = Uint8Array.from('dur', (c) => c.charCodeAt(0));

/**
 * The phases one route is judged on, compiled for {@link ServerTimingPhases.read}.
 *
 * @example
 * const phases = new ServerTimingPhases(['auth', 'db']);
 * const into = new Float64Array(phases.names.length);
 * phases.read(Buffer.from('db;dur=3.4, total;dur=5'), 0, 23, into); // into: [NaN, 3.4]
 */
export class ServerTimingPhases {
  /** Phase names, in the order of the durations `read` writes. */
  readonly names: readonly string[];
  readonly #bytes: readonly Uint8Array[];

  constructor(names: readonly string[]) {
    this.names = [...names];
    this.#bytes = this.names.map((name) => Uint8Array.from(name, (c) => c.charCodeAt(0)));
  }

  /**
   * Reads one `Server-Timing` value, `buffer[from, to)`, into `into` (one slot per name): each named phase's
   * `dur` in ms is added to its slot (a phase named twice counts twice; a slot must start as NaN, meaning the
   * phase did not run). Other metrics (`total`, a proxy's own) are skipped; a metric with no `dur`, or one
   * that is not a number, counts as 0 ms, as the standard says. Never throws: a malformed header is read as
   * far as it makes sense.
   */
  read(buffer: Uint8Array, from: number, to: number, into: Float64Array): void {
    let at = from;
    while (at < to) {
      while (at < to && (isSpace(buffer[at]!) || buffer[at] === COMMA)) at++;
      const nameStart = at;
      while (at < to && !isDelimiter(buffer[at]!)) at++;
      const slot = this.#indexOf(buffer, nameStart, at);
      let ms = 0;
      // Parameters: `;name=value` (a token or a quoted string), until the next metric.
      while (at < to && buffer[at] !== COMMA) {
        if (buffer[at] !== SEMICOLON) {
          at++;
          continue;
        }
        at++;
        while (at < to && isSpace(buffer[at]!)) at++;
        const paramStart = at;
        while (at < to && buffer[at] !== EQUALS && !isDelimiter(buffer[at]!)) at++;
        const isDur = slot >= 0 && at - paramStart === 3 && matchesLower(buffer, paramStart, dur);
        while (at < to && isSpace(buffer[at]!)) at++;
        if (buffer[at] !== EQUALS) continue;
        at++;
        while (at < to && isSpace(buffer[at]!)) at++;
        let valueStart = at;
        let valueEnd: number;
        if (buffer[at] === QUOTE) {
          valueStart = ++at;
          while (at < to && buffer[at] !== QUOTE) at += buffer[at] === BACKSLASH ? 2 : 1;
          valueEnd = Math.min(at, to);
          at++;
        } else {
          while (at < to && !isDelimiter(buffer[at]!)) at++;
          valueEnd = at;
        }
        if (isDur) ms = parseMs(buffer, valueStart, valueEnd);
      }
      if (slot >= 0) into[slot] = Number.isNaN(into[slot]!) ? ms : into[slot]! + ms;
    }
  }

  /** The slot of the name in `buffer[from, to)`, or -1 when the route has no budget for it. */
  #indexOf(buffer: Uint8Array, from: number, to: number): number {
    const length = to - from;
    for (let i = 0; i < this.#bytes.length; i++) {
      const name = this.#bytes[i]!;
      if (name.length !== length) continue;
      let same = true;
      for (let j = 0; j < length && same; j++) same = buffer[from + j] === name[j];
      if (same) return i;
    }
    return -1;
  }
}

function isSpace(byte: number): boolean {
  return byte === SPACE || byte === TAB;
}

function isDelimiter(byte: number): boolean {
  return byte === SEMICOLON || byte === COMMA || byte === SPACE || byte === TAB;
}

function matchesLower(buffer: Uint8Array, at: number, name: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) if ((buffer[at + i]! | 0x20) !== name[i]) return false;
  return true;
}

/** A non-negative decimal (`3`, `3.25`, `.5`) in `buffer[from, to)`; 0 when it is not one. */
function parseMs(buffer: Uint8Array, from: number, to: number): number {
  let whole = 0;
  let fraction = 0;
  let scale = 1;
  let digits = 0;
  let at = from;
  for (; at < to && buffer[at]! >= 48 && buffer[at]! <= 57; at++, digits++)
    whole = whole * 10 + buffer[at]! - 48;
  if (at < to && buffer[at] === 46) {
    for (at++; at < to && buffer[at]! >= 48 && buffer[at]! <= 57; at++, digits++) {
      fraction = fraction * 10 + buffer[at]! - 48;
      scale *= 10;
    }
  }
  return digits > 0 && at === to ? whole + fraction / scale : 0;
}
