// The spec's units: durations (`250ms`, `5m`, `30d`), ratios (`0.1%`, `0.001`) and rates (`200/s`).
// Ratios keep their exact decimal text too, so thresholds print in PromQL without float noise.

const durationUnits: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A pattern a spec duration must match (used by the JSON Schema too). */
export const durationPattern = '^(?:\\d+(?:\\.\\d+)?(?:us|ms|s|m|h|d))+$';
/** A ratio: a percentage (`0.1%`) or a fraction in [0, 1] (`0.001`). */
export const ratioPattern = '^(?:\\d+(?:\\.\\d+)?%|0(?:\\.\\d+)?|1(?:\\.0+)?)$';
/** A rate: `200/s`, `12000/m`, `5/h`. */
export const ratePattern = '^\\d+(?:\\.\\d+)?/(?:s|m|h)$';

/**
 * Milliseconds in a duration such as `250ms`, `1.5s` or `1h30m`.
 *
 * @example
 * parseDuration('1m30s') // 90000
 */
export function parseDuration(text: string): number {
  if (!new RegExp(durationPattern).test(text)) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h|d)/g)) {
    total += Number(amount) * durationUnits[unit!]!;
  }
  return total;
}

/** A ratio as a number and as an exact decimal string (`0.1%` → 0.001 and '0.001'). */
export interface Ratio {
  value: number;
  decimal: string;
}

/**
 * Parses `0.1%` or `0.001` into a fraction, keeping the exact decimal.
 *
 * @example
 * parseRatio('99.9%') // { value: 0.999, decimal: '0.999' }
 */
export function parseRatio(text: string | number): Ratio {
  const source = String(text);
  if (!new RegExp(ratioPattern).test(source)) throw new Error(`not a ratio: ${JSON.stringify(text)}`);
  const decimal = source.endsWith('%') ? shiftDecimal(source.slice(0, -1), -2) : normalizeDecimal(source);
  return { value: Number(decimal), decimal };
}

/**
 * Requests per second in `200/s`, `600/m`.
 *
 * @example
 * parseRate('600/m') // 10
 */
export function parseRate(text: string): number {
  if (!new RegExp(ratePattern).test(text)) throw new Error(`not a rate: ${JSON.stringify(text)}`);
  const [amount, unit] = text.split('/') as [string, string];
  return Number(amount) / (unit === 's' ? 1 : unit === 'm' ? 60 : 3600);
}

/** Moves the decimal point of a non-negative decimal string, exactly (no floating point). */
function shiftDecimal(text: string, places: number): string {
  const [whole = '0', fraction = ''] = text.split('.');
  const digits = whole + fraction;
  const point = whole.length + places;
  const padded = point <= 0 ? '0'.repeat(1 - point) + digits : digits;
  const at = Math.max(point, 1);
  return normalizeDecimal(`${padded.slice(0, at)}.${padded.slice(at)}`);
}

function normalizeDecimal(text: string): string {
  let [whole = '0', fraction = ''] = text.split('.');
  whole = whole.replace(/^0+(?=\d)/, '');
  fraction = fraction.replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole;
}
