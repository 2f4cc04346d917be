// JUnit XML of a gate: one test suite per route, one test case per check; a breach is a failure and a
// percentile with too few samples is skipped, so CI systems show budgets like tests.

import type { GateResult } from '../gate/judge.ts';

const escapeXml = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

/**
 * @example
 * await writeFile('headroom.junit.xml', junitReport(gate, 'golden-path'));
 */
export function junitReport(gate: GateResult, name: string): string {
  const suites = gate.routes.map((route) => {
    const cases = route.checks.map((check) => {
      const title = `${check.metric} ${check.observed.toFixed(3)} (limit ${check.limit})`;
      const body =
        check.verdict === 'fail'
          ? `<failure message="${escapeXml(`${check.metric} ${check.observed.toFixed(3)} exceeds ${check.limit}`)}"/>`
          : check.verdict === 'insufficient'
            ? `<skipped message="${escapeXml(check.note ?? 'insufficient samples')}"/>`
            : '';
      return `    <testcase classname="${escapeXml(route.route)}" name="${escapeXml(title)}">${body}</testcase>`;
    });
    const failures = route.checks.filter((c) => c.verdict === 'fail').length;
    const skipped = route.checks.filter((c) => c.verdict === 'insufficient').length;
    return `  <testsuite name="${escapeXml(route.route)}" tests="${route.checks.length}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  const tests = gate.routes.reduce((n, r) => n + r.checks.length, 0);
  const failures = gate.routes.reduce((n, r) => n + r.checks.filter((c) => c.verdict === 'fail').length, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${escapeXml(name)}" tests="${tests}" failures="${failures}">\n${suites.join('\n')}\n</testsuites>\n`;
}
