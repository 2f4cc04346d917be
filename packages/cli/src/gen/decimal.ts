// Exact decimal arithmetic for the thresholds `headroom gen` prints: 14.4 × 0.001 is written 0.0144, never
// 0.014400000000000001 (sloth's 0.0009999999999999432 is the failure this avoids).

/** A decimal as an integer and a power of ten: 0.0144 is { units: 144n, scale: 4 }. */
interface Exact {
  units: bigint;
  scale: number;
}

function parse(text: string): Exact {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new TypeError(`not a plain decimal: ${JSON.stringify(text)}`);
  const fraction = match[3] ?? '';
  const units = BigInt(`${match[2]}${fraction}`);
  return { units: match[1] ? -units : units, scale: fraction.length };
}

function format({ units, scale }: Exact): string {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString().padStart(scale + 1, '0');
  let text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  if (scale > 0) text = text.replace(/0+$/, '').replace(/\.$/, '');
  digits = text;
  return negative && digits !== '0' ? `-${digits}` : digits;
}

/** A number as the shortest plain decimal JavaScript prints for it (no exponent). */
export function decimalOf(value: number | string): string {
  if (typeof value === 'string') return format(parse(value));
  if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return format(parse(value.toFixed(20)));
}

function align(a: Exact, b: Exact): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.units * 10n ** BigInt(scale - a.scale), b.units * 10n ** BigInt(scale - b.scale), scale];
}

/** a × b, exactly. */
export function times(a: number | string, b: number | string): string {
  const x = parse(decimalOf(a));
  const y = parse(decimalOf(b));
  return format({ units: x.units * y.units, scale: x.scale + y.scale });
}

/** a − b, exactly. */
export function minus(a: number | string, b: number | string): string {
  const [x, y, scale] = align(parse(decimalOf(a)), parse(decimalOf(b)));
  return format({ units: x - y, scale });
}

/** a ÷ b rounded to `digits` decimal places (for burn factors of odd windows). */
export function divide(a: number | string, b: number | string, digits = 6): string {
  const [x, y] = align(parse(decimalOf(a)), parse(decimalOf(b)));
  if (y === 0n) throw new RangeError('division by zero');
  const scaled = (x * 10n ** BigInt(digits + 1)) / y;
  const rounded = (scaled + (scaled >= 0n ? 5n : -5n)) / 10n;
  return format({ units: rounded, scale: digits });
}
