// A drill's verdict (a spike, a soak): criteria judged on a whole run beside the spec's budgets, each a row
// of what was seen against what was allowed. `headroom load` prints them and exits 1 when any fails; the
// artifact keeps them, so `headroom report` renders them and exits the same way.

/** One criterion of a drill. */
export interface DrillCheck {
  name: string;
  verdict: 'pass' | 'fail' | 'insufficient';
  /** What was seen, against what was allowed. */
  detail: string;
}

export interface DrillVerdict {
  drill: 'spike' | 'soak';
  /** `fail` when any criterion fails, else `insufficient` when any could not be judged, else `pass`. */
  verdict: 'pass' | 'fail' | 'insufficient';
  checks: DrillCheck[];
}

/**
 * The verdict of `checks`.
 *
 * @example
 * drillVerdict('soak', checks).verdict; // 'insufficient'
 */
export function drillVerdict(drill: DrillVerdict['drill'], checks: DrillCheck[]): DrillVerdict {
  const verdict = checks.some((c) => c.verdict === 'fail')
    ? 'fail'
    : checks.some((c) => c.verdict === 'insufficient')
      ? 'insufficient'
      : 'pass';
  return { drill, verdict, checks };
}

const word = (verdict: DrillCheck['verdict']) =>
  verdict === 'pass' ? 'pass' : verdict === 'fail' ? 'FAIL' : 'insufficient data';

/**
 * A drill's verdict as Markdown, a row per criterion.
 *
 * @example
 * process.stdout.write(`${drillTable(judgeSoak(result, scenario.soak))}\n`);
 */
export function drillTable(verdict: DrillVerdict): string {
  return [
    `${verdict.drill}: ${word(verdict.verdict)}`,
    '',
    '| criterion | verdict | seen |',
    '| --- | --- | --- |',
    ...verdict.checks.map((c) => `| ${c.name} | ${word(c.verdict)} | ${c.detail} |`),
  ].join('\n');
}
