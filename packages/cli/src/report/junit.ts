// JUnit XML of a gate: one test suite per route, one test case per check, so CI systems show budgets like
// tests. A case's name is the budget (`p95 ≤ 40 ms`), never the measured value, so CI history follows one
// test across runs; the measured value sits in the case's <properties> and <system-out>. A breach is a
// failure; a check that could not be judged (too few samples) is skipped, with the reason. A drill (spike,
// soak) is a suite of its own, a case per criterion.

import type { RunArtifact } from '../artifact.ts';
import type { DrillVerdict } from '../gate/drill.ts';
import type { GateResult } from '../gate/judge.ts';
import { checkTitle, formatLimit, formatObserved, unitOf } from './verdict.ts';

export interface JunitOptions {
  /** Seconds of load the verdicts rest on (the judged stages), for the suites' `time`. @default 0 */
  seconds?: number;
  /** When the run started (ISO 8601), for the suites' `timestamp`. */
  timestamp?: string;
  /** The run's drills (spike, soak): a suite each, a case per criterion. */
  drills?: readonly DrillVerdict[];
}

const escapeXml = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

const attributes = (values: Record<string, string | number | undefined>) =>
  Object.entries(values)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ` ${key}="${escapeXml(String(value))}"`)
    .join('');

/**
 * @example
 * await writeFile('headroom.junit.xml', junitReport(gate, 'golden-path', { seconds: 60 }));
 */
export function junitReport(gate: GateResult | undefined, name: string, options: JunitOptions = {}): string {
  // A check is measured, not executed: its own time is 0; the suite's time is the load it was measured under.
  const time = (options.seconds ?? 0).toFixed(3);
  const count = (checks: readonly { verdict: string }[], verdict: string) =>
    checks.filter((c) => c.verdict === verdict).length;
  const suites = (gate?.routes ?? []).map((route) => {
    const cases = route.checks.map((check) => {
      const observed = check.observed;
      const measured = `${check.metric} ${formatObserved(check.metric, observed)} (limit ${formatLimit(check.metric, check.limit)}, ${route.samples} samples): ${check.verdict}${check.note ? ` (${check.note})` : ''}`;
      const outcome =
        check.verdict === 'fail'
          ? `\n      <failure message="${escapeXml(Number.isNaN(observed) ? `${checkTitle(check)}: ${check.note ?? 'not measured'}` : `${check.metric} ${formatObserved(check.metric, observed)} breaches ${checkTitle(check)}`)}" type="budget"/>`
          : check.verdict === 'insufficient'
            ? `\n      <skipped message="${escapeXml(`insufficient data: ${check.note ?? 'too few samples'}`)}"/>`
            : '';
      const properties = [
        ['metric', check.metric],
        ...(Number.isNaN(observed) ? [] : [['observed', String(observed)]]),
        ['limit', String(check.limit)],
        ['unit', unitOf(check.metric)],
        ['samples', String(route.samples)],
        ['verdict', check.verdict],
        ...(route.objective ? [['objective', route.objective]] : []),
      ]
        .map(([key, value]) => `        <property${attributes({ name: key, value })}/>`)
        .join('\n');
      // Properties first, as pytest writes them; then the outcome and the output the JUnit schema orders.
      return `    <testcase${attributes({ classname: route.route, name: checkTitle(check), time: '0' })}>
      <properties>\n${properties}\n      </properties>${outcome}
      <system-out>${escapeXml(measured)}</system-out>
    </testcase>`;
    });
    return `  <testsuite${attributes({
      name: route.route,
      tests: route.checks.length,
      failures: count(route.checks, 'fail'),
      errors: 0,
      skipped: count(route.checks, 'insufficient'),
      time,
      timestamp: options.timestamp,
    })}>\n${cases.join('\n')}\n  </testsuite>`;
  });
  // A drill's criteria are named as the drill names them (`recovery`, `rss slope`): stable across runs.
  for (const drill of options.drills ?? []) {
    const cases = drill.checks.map((check) => {
      const outcome =
        check.verdict === 'fail'
          ? `\n      <failure message="${escapeXml(`${check.name}: ${check.detail}`)}" type="drill"/>`
          : check.verdict === 'insufficient'
            ? `\n      <skipped message="${escapeXml(`insufficient data: ${check.detail}`)}"/>`
            : '';
      return `    <testcase${attributes({ classname: `${drill.drill} drill`, name: check.name, time: '0' })}>${outcome}
      <system-out>${escapeXml(`${check.name}: ${check.verdict}: ${check.detail}`)}</system-out>
    </testcase>`;
    });
    suites.push(
      `  <testsuite${attributes({
        name: `${drill.drill} drill`,
        tests: drill.checks.length,
        failures: count(drill.checks, 'fail'),
        errors: 0,
        skipped: count(drill.checks, 'insufficient'),
        time,
        timestamp: options.timestamp,
      })}>\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  const all = [
    ...(gate?.routes ?? []).flatMap((r) => r.checks),
    ...(options.drills ?? []).flatMap((d) => d.checks),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites${attributes({
    name,
    tests: all.length,
    failures: count(all, 'fail'),
    errors: 0,
    skipped: count(all, 'insufficient'),
    time,
    timestamp: options.timestamp,
  })}>\n${suites.join('\n')}\n</testsuites>\n`;
}

/**
 * The JUnit XML of a saved run: its gate and its drills, with the judged stages' duration as the suites'
 * `time`, the start as their `timestamp`.
 *
 * @example
 * await writeFile('junit.xml', junitRunReport(artifact));
 */
export function junitRunReport(artifact: RunArtifact): string {
  const { stages, startedAt } = artifact.result;
  return junitReport(artifact.gate, artifact.scenario.name, {
    seconds: stages.filter((s) => s.judge).reduce((sum, s) => sum + s.durationMs, 0) / 1000,
    timestamp: startedAt,
    ...(artifact.drills ? { drills: artifact.drills } : {}),
  });
}
