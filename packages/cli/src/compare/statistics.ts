// The statistics of `headroom compare`: a percentile bootstrap of a ratio, and the Mann-Whitney U test,
// both over runs (the statistical unit), both deterministic for a given seed.

/** The median of a list (mean of the middle two for even lengths). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

/**
 * Percentile-bootstrap confidence interval of median(candidate) ÷ median(baseline): both groups are
 * resampled with replacement `rounds` times.
 *
 * @example
 * bootstrapRatio([100, 104, 98], [120, 118, 125], { random: seededRandom(1) }) // { estimate: ≈1.18, low, high }
 */
export function bootstrapRatio(
  baseline: readonly number[],
  candidate: readonly number[],
  options: { random: () => number; rounds?: number; confidence?: number },
): Interval {
  const rounds = options.rounds ?? 5000;
  const confidence = options.confidence ?? 0.95;
  const resample = (values: readonly number[]) =>
    median(
      Array.from({ length: values.length }, () => values[Math.floor(options.random() * values.length)]!),
    );
  const ratios = Array.from({ length: rounds }, () => resample(candidate) / resample(baseline)).sort(
    (a, b) => a - b,
  );
  const tail = (1 - confidence) / 2;
  return {
    estimate: median(candidate) / median(baseline),
    low: ratios[Math.floor(tail * (rounds - 1))]!,
    high: ratios[Math.ceil((1 - tail) * (rounds - 1))]!,
  };
}

/**
 * Two-sided Mann-Whitney U test. Exact (all splits of the pooled ranks) when the pooled sample is small,
 * normal approximation with tie correction otherwise.
 *
 * @example
 * mannWhitney([1, 2, 3], [4, 5, 6]).p // 0.1 (the smallest possible p with 3 runs a side)
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): { u: number; p: number } {
  const pooled = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(pooled.length);
  for (let i = 0; i < pooled.length; ) {
    let j = i;
    while (j + 1 < pooled.length && pooled[j + 1]!.v === pooled[i]!.v) j++;
    for (let k = i; k <= j; k++) ranks[k] = (i + j) / 2 + 1;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const r1 = pooled.reduce((sum, item, i) => (item.g === 0 ? sum + ranks[i]! : sum), 0);
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u = Math.min(u1, n1 * n2 - u1);
  if (n1 + n2 <= 20) return { u, p: exactP(ranks, n1, u) };
  const mean = (n1 * n2) / 2;
  const counts = new Map<number, number>();
  for (const r of ranks) counts.set(r, (counts.get(r) ?? 0) + 1);
  const ties = [...counts.values()].reduce((sum, t) => sum + t ** 3 - t, 0);
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1))));
  if (sd === 0) return { u, p: 1 };
  const z = (Math.abs(u - mean) - 0.5) / sd;
  return { u, p: Math.min(1, 2 * (1 - normalCdf(Math.max(0, z)))) };
}

/** Share of all ways to pick n1 of the pooled ranks whose U is at least as extreme as the observed one. */
function exactP(ranks: number[], n1: number, observedU: number): number {
  const n2 = ranks.length - n1;
  let extreme = 0;
  let total = 0;
  const pick = (start: number, left: number, sum: number) => {
    if (left === 0) {
      const u1 = sum - (n1 * (n1 + 1)) / 2;
      if (Math.min(u1, n1 * n2 - u1) <= observedU + 1e-9) extreme++;
      total++;
      return;
    }
    for (let i = start; i <= ranks.length - left; i++) pick(i + 1, left - 1, sum + ranks[i]!);
  };
  pick(0, n1, 0);
  return Math.min(1, extreme / total);
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26, error < 1.5e-7). */
function normalCdf(z: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const erf =
    1 -
    t *
      (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
      Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
