import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec } from '@headroom/core/slo';
import { SummaryFigures } from '../import/summary.ts';
import { headline } from '../report/verdict.ts';
import { RouteStats } from '../stats/route-stats.ts';
import { judgeFigures, phaseNames } from './judge.ts';
import { verdictTable } from './table.ts';

/** A route's cell: `n` answers of each status at the given latency (ms). */
function cell(
  answers: [status: number | undefined, count: number, ms: number][],
  failedChecks = 0,
): RouteStats {
  const stats = new RouteStats('steady', 'GET /x');
  let checks = failedChecks;
  for (const [status, count, ms] of answers) {
    for (let i = 0; i < count; i++) {
      stats.record({ intendedMs: 0, sentMs: 0, doneMs: ms, status, checkFailed: checks-- > 0 });
    }
  }
  return stats;
}

const judgeOne = (yaml: string, stats: RouteStats, checkFailures = 0) =>
  judgeFigures(new Map([['GET /x', stats]]), parseSpec(`service: t\nobjectives:\n  - ${yaml}`), {
    checkFailures,
  });

test('a run that is 88% 429s fails a budget that names 429, and its p95 is the admitted requests’ own', () => {
  const mostlyRefused = cell([
    [200, 1_200, 80], // admitted: slow
    [429, 8_800, 1], // refused at once
  ]);
  const gate = judgeOne(
    '{ name: x, route: GET /x, latency: { p95: 50ms }, errors: { ratio: 1%, statuses: [5xx, 429] } }',
    mostlyRefused,
  );
  const [route] = gate.routes;
  assert.equal(gate.verdict, 'fail');
  const errors = route?.checks.find((c) => c.metric === 'errors');
  assert.equal(errors?.verdict, 'fail');
  assert.equal(errors?.observed, 0.88);
  const p95 = route?.checks.find((c) => c.metric === 'p95');
  assert.equal(p95?.verdict, 'fail', 'refusals in 1 ms do not pull the p95 under its budget');
  assert.ok((p95?.observed ?? 0) >= 79, `p95 ${p95?.observed}`);
  assert.equal(mostlyRefused.percentileMs(95, 'refused'), 1);
});

test('by default the error budget counts 5xx and requests with no answer, not 429', () => {
  const stats = cell([
    [200, 900, 5],
    [429, 80, 1],
    [503, 10, 1],
    [undefined, 10, 30_000],
  ]);
  const [route] = judgeOne('{ name: x, route: GET /x, errors: 5% }', stats).routes;
  const errors = route?.checks.find((c) => c.metric === 'errors');
  assert.equal(errors?.observed, 0.02, '10 × 503 and 10 with no answer, of 1,000');
  assert.equal(errors?.verdict, 'pass');
  assert.equal(
    stats.admitted,
    910,
    '503 is a refusal; a request with no answer is admitted (its wait counts)',
  );
});

test('availability is judged: half the requests failing breaks 99.9%', () => {
  const gate = judgeOne(
    '{ name: x, route: GET /x, availability: 99.9% }',
    cell([
      [200, 500, 5],
      [500, 500, 5],
    ]),
  );
  const availability = gate.routes[0]?.checks.find((c) => c.metric === 'availability');
  assert.deepEqual([availability?.observed, availability?.verdict, gate.verdict], [0.5, 'fail', 'fail']);
  const fine = judgeOne(
    '{ name: x, route: GET /x, availability: 99% }',
    cell([
      [200, 999, 5],
      [502, 1, 5],
    ]),
  );
  assert.equal(fine.verdict, 'pass');
});

test('failed checks fail the run past the allowance, on a route with no objective too', () => {
  const stats = cell([[200, 100, 5]], 3);
  const unjudged = judgeFigures(new Map([['GET /other', stats]]), undefined);
  assert.equal(unjudged.verdict, 'fail');
  assert.deepEqual(
    unjudged.routes[0]?.checks.map((c) => [c.metric, c.observed, c.verdict]),
    [['checks', 0.03, 'fail']],
  );
  assert.equal(
    judgeFigures(new Map([['GET /other', stats]]), undefined, { checkFailures: 0.05 }).verdict,
    'pass',
  );
  assert.equal(
    judgeFigures(new Map([['GET /other', cell([[200, 100, 5]])]]), undefined).routes[0]?.verdict,
    'unjudged',
  );
});

test('too few admitted samples make a percentile insufficient, however many refusals came', () => {
  const stats = cell([
    [200, 50, 5],
    [429, 5_000, 1],
  ]);
  const p99 = judgeOne('{ name: x, route: GET /x, latency: { p99: 100ms } }', stats).routes[0]?.checks[0];
  assert.equal(p99?.verdict, 'insufficient');
  assert.equal(p99?.note, '50 admitted samples, 1000 needed');
});

test('exact status counts survive the artifact, and an old artifact without them still reads', () => {
  const stats = cell([
    [200, 3, 5],
    [429, 2, 1],
  ]);
  const back = RouteStats.fromJSON(JSON.parse(JSON.stringify(stats.toJSON())));
  assert.deepEqual(back.codes, { 200: 3, 429: 2 });
  assert.equal(back.share([429]), 0.4);
  assert.equal(back.percentileMs(50, 'refused'), 1);
  const { codes: _codes, refused: _refused, ...old } = stats.toJSON();
  const legacy = RouteStats.fromJSON(old);
  assert.equal(
    legacy.share(['4xx']),
    2 / 3,
    'classes are exact; codes unknown; refusals were not recorded apart',
  );
});

/** A route's cell with `answers` admitted answers, `timed` of them with Server-Timing: db at `dbMs`, auth at 1 ms. */
function timedCell(answers: number, timed: number, dbMs: number): RouteStats {
  const stats = cell([[200, answers, 5]]);
  for (let i = 0; i < timed; i++) stats.addPhases(['auth', 'db'], Float64Array.of(1, dbMs));
  return stats;
}
const phased = '{ name: x, route: GET /x, latency: { p50: 1s }, phases: { auth: 5ms, db: 20ms } }';

test('each phase p95 is judged against its budget; one phase over fails the route, named', () => {
  const within = judgeOne(phased, timedCell(300, 300, 12));
  assert.equal(within.verdict, 'pass');
  assert.deepEqual(
    within.routes[0]?.checks.map((c) => [c.metric, c.phase, c.observed, c.verdict]),
    [
      ['p50', undefined, 5, 'pass'],
      ['phase auth p95', 'auth', 1, 'pass'],
      ['phase db p95', 'db', 12, 'pass'],
    ],
  );
  const slowDb = judgeOne(phased, timedCell(300, 300, 35));
  assert.equal(slowDb.verdict, 'fail');
  const db = slowDb.routes[0]?.checks.find((c) => c.metric === 'phase db p95');
  assert.deepEqual([db?.observed, db?.limit, db?.verdict], [35, 20, 'fail']);
  assert.equal(slowDb.notes, undefined);
  assert.match(
    verdictTable(slowDb),
    /\| `GET \/x` \| 300 \| phase db p95 ≤ 20 ms \| 35\.00 ms \/ 20 ms \| \*\*fail\*\* \|/,
  );
});

test('a route with phase budgets whose answers carried no Server-Timing fails, saying to enable it', () => {
  const gate = judgeOne(phased, timedCell(300, 0, 0));
  assert.equal(gate.verdict, 'fail', 'a budget nobody measured is not met');
  const phases = gate.routes[0]?.checks.filter((c) => c.phase !== undefined);
  assert.deepEqual(
    phases?.map((c) => [c.metric, c.verdict]),
    [
      ['phase auth p95', 'fail'],
      ['phase db p95', 'fail'],
    ],
  );
  assert.match(phases?.[0]?.note ?? '', /insufficient data: no answer carried Server-Timing/);
  assert.match(
    gate.notes?.[0] ?? '',
    /GET \/x: its phase budgets were not measured: none of its 300 admitted answers carried a Server-Timing header\. Enable Server-Timing/,
  );
  const table = verdictTable(gate);
  assert.match(
    table,
    /phase db p95 ≤ 20 ms \| – \/ 20 ms \| \*\*fail\*\* \(insufficient data: no answer carried Server-Timing; enable it on the server\) \|/,
  );
  assert.match(table, /verdict: \*\*fail\*\*\n\n⚠ GET \/x: its phase budgets were not measured/);
});

test('a phase that ran too rarely is insufficient, as a percentile with too few samples is', () => {
  const stats = timedCell(300, 300, 12);
  const rare = cell([[200, 300, 5]]);
  for (let i = 0; i < 300; i++) rare.addPhases(['auth', 'db'], Float64Array.of(1, i < 50 ? 3 : Number.NaN));
  const gate = judgeOne(phased, rare);
  const db = gate.routes[0]?.checks.find((c) => c.phase === 'db');
  assert.deepEqual([db?.verdict, db?.note], ['insufficient', 'ran in 50 of 300 timed answers, 200 needed']);
  assert.equal(gate.verdict, 'pass');
  assert.equal(headline(gate), 'insufficient data');
  assert.equal(judgeOne(phased, stats).routes[0]?.verdict, 'pass');
});

test('an imported summary has no Server-Timing: its phase budgets are not judged, and the output says so', () => {
  const imported = new SummaryFigures({ count: 300, percentiles: { 50: 5 } });
  const gate = judgeFigures(
    new Map([['GET /x', imported]]),
    parseSpec(`service: t\nobjectives:\n  - ${phased}`),
  );
  assert.equal(gate.verdict, 'pass');
  assert.deepEqual(
    gate.routes[0]?.checks.map((c) => c.metric),
    ['p50'],
  );
  assert.match(
    gate.notes?.[0] ?? '',
    /phase budgets not judged: the source has no Server-Timing \(a k6 or autocannon summary carries none\): GET \/x \(auth, db\)/,
  );
  assert.match(verdictTable(gate), /⚠ phase budgets not judged/);
});

test('phaseNames: the phases the generator reads, by route', () => {
  const spec = parseSpec(
    `service: t\nobjectives:\n  - ${phased}\n  - { name: y, route: POST /y, errors: 1% }`,
  );
  assert.deepEqual(phaseNames(spec), { 'GET /x': ['auth', 'db'] });
  assert.deepEqual(phaseNames(undefined), {});
});

test('Server-Timing on some answers only: the phases are judged on those, and the row says how many', () => {
  const gate = judgeOne(phased, timedCell(1000, 400, 12));
  const db = gate.routes[0]?.checks.find((c) => c.phase === 'db');
  assert.deepEqual([db?.verdict, db?.note], ['pass', 'ran in 400 of 400 timed answers (of 1000 admitted)']);
});
