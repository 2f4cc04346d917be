// One self-contained HTML file: the run's figures embedded as JSON and drawn by uPlot, whose script and
// stylesheet are inlined from node_modules when the report is written. No request leaves the page (its
// Content-Security-Policy forbids any): the file can be mailed, archived as a CI artifact, opened offline.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RunArtifact } from '../artifact.ts';
import { routesOf } from '../compare/compare.ts';
import { RouteStats } from '../stats/route-stats.ts';
import { isLatency, maxMs } from './bounded.ts';
import { htmlPage } from './html-page.ts';
import { checkTitle, formatLimit, formatObserved, headline } from './verdict.ts';

/** The percentiles every latency chart draws; a budget on another one (p90, p99.9) adds its line. */
const drawn = ['p50', 'p95', 'p99'];

/**
 * @example
 * await writeFile('headroom.html', htmlReport(artifact));
 */
export function htmlReport(artifact: RunArtifact): string {
  const require = createRequire(import.meta.url);
  const asset = (path: string) => readFileSync(require.resolve(`uplot/dist/${path}`), 'utf8');
  const copyright = readFileSync(require.resolve('uplot/LICENSE'), 'utf8').match(/Copyright.*/)?.[0] ?? '';
  return htmlPage({
    title: `headroom: ${artifact.scenario.name}`,
    data: reportData(artifact),
    uplot: { script: asset('uPlot.iife.min.js'), style: asset('uPlot.min.css'), copyright },
  });
}

/**
 * What the page draws, computed here so that the page only lays it out.
 *
 * @example
 * reportData(artifact).headline; // 'insufficient data'
 */
export function reportData(artifact: RunArtifact) {
  const { result, gate } = artifact;
  let at = 0;
  const stages = result.stages.map((s) => {
    const start = at;
    at += s.durationMs / 1000;
    return { name: s.name, judge: s.judge, start, end: at, durationS: s.durationMs / 1000 };
  });
  const durationS = Math.max(at, result.durationMs / 1000, ...result.timeline.map((p) => p.t));
  const cells = result.cells.map((c) => RouteStats.fromJSON(c));
  const judgedRoutes = routesOf(artifact);
  const names = [...new Set([...(gate?.routes.map((r) => r.route) ?? []), ...judgedRoutes.keys()])].sort();
  const routes = names.map((route) => {
    const verdict = gate?.routes.find((r) => r.route === route);
    const judged = judgedRoutes.get(route);
    const budgets = (verdict?.checks ?? [])
      .filter((c) => isLatency(c.metric))
      .map((c) => ({ metric: c.metric, limit: c.limit }));
    const percentiles = [...new Set([...drawn, ...budgets.map((b) => b.metric)])];
    return {
      route,
      objective: verdict?.objective ?? null,
      verdict: verdict?.verdict ?? 'unjudged',
      budgets,
      // Per stage, not per second: the artifact's timeline is the run's, not a route's.
      stages: stages.map((stage) => {
        const cell = cells.find((c) => c.stage === stage.name && c.route === route);
        return {
          stage: stage.name,
          requests: cell?.count ?? 0,
          max: cell?.admitted ? maxMs(cell) : null,
          values: Object.fromEntries(
            percentiles.map((m) => [m, cell?.admitted ? cell.percentileMs(Number(m.slice(1))) : null]),
          ),
        };
      }),
      summary: judged
        ? {
            requests: judged.count,
            refused: judged.count - judged.admitted,
            p50: judged.percentileMs(50),
            p95: judged.percentileMs(95),
            p99: judged.percentileMs(99),
            max: maxMs(judged),
            failures: (judged.status['5xx'] ?? 0) + judged.networkErrors,
          }
        : null,
      checks: (verdict?.checks ?? []).map((c) => ({
        title: checkTitle(c),
        observed: formatObserved(c.metric, c.observed),
        limit: formatLimit(c.metric, c.limit),
        verdict: c.verdict,
        note: c.verdict === 'pass' ? '' : (c.note ?? ''),
      })),
    };
  });
  return {
    name: artifact.scenario.name,
    headline: headline(gate, artifact.drills),
    why: [
      ...(gate?.routes ?? [])
        .filter((r) => r.verdict === 'fail' || r.verdict === 'insufficient')
        .map((r) => `${r.route}: ${r.verdict}`),
      ...(artifact.drills ?? [])
        .filter((d) => d.verdict !== 'pass')
        .map((d) => `${d.drill} drill: ${d.verdict}`),
      ...(gate?.notes ?? []),
    ],
    drills: (artifact.drills ?? []).map((d) => ({ drill: d.drill, verdict: d.verdict, checks: d.checks })),
    // A soak's readings: the target's memory, and its stage's p95 per window.
    memory: result.memory
      ? { t: result.memory.samples.map((s) => s.t), mb: result.memory.samples.map((s) => s.bytes / 2 ** 20) }
      : null,
    // Each window's p95 held from its start to its end: the first start, then every end.
    windows: result.windows?.length
      ? {
          t: [result.windows[0]!.from, ...result.windows.map((w) => w.t)],
          p95: [result.windows[0]!, ...result.windows].map((w) => (w.admitted ? w.p95 : null)),
        }
      : null,
    run: {
      model: result.model,
      target: result.target,
      startedAt: result.startedAt,
      commit: artifact.commit.slice(0, 12),
      machine: `${artifact.machine.cpus} × ${artifact.machine.cpuModel}, Node ${artifact.machine.node}`,
      eventLoopP99: result.eventLoopDelayMs.p99,
      aborted: result.aborted ?? null,
    },
    durationS,
    stages: result.stages.map((s, i) => ({ ...s, ...stages[i]! })),
    timeline: {
      t: result.timeline.map((p) => p.t),
      requests: result.timeline.map((p) => p.requests),
      errors: result.timeline.map((p) => p.errors),
      // No request completed in that second: a gap, not a 0 ms latency (a log scale cannot draw 0).
      p50: result.timeline.map((p) => (p.requests ? p.p50 : null)),
      p95: result.timeline.map((p) => (p.requests ? p.p95 : null)),
      p99: result.timeline.map((p) => (p.requests ? p.p99 : null)),
    },
    classes: statusClasses(artifact, stages),
    routes,
  };
}

export type ReportData = ReturnType<typeof reportData>;

// Answers per second by class, per stage: 2xx/3xx served, 4xx refused as bad requests, 429/503 refused for
// load, 5xx and no answer failed. Artifacts from before `codes` cannot tell refusals apart: null.
function statusClasses(artifact: RunArtifact, stages: { name: string; durationS: number }[]) {
  const exact = artifact.result.cells.every((c) => c.codes !== undefined);
  return stages.map((stage) => {
    const sum = { served: 0, client: 0, refused: 0, failed: 0 };
    for (const c of artifact.result.cells) {
      if (c.stage !== stage.name) continue;
      const code = (n: string) => (exact ? (c.codes?.[n] ?? 0) : 0);
      sum.served += (c.status['1xx'] ?? 0) + (c.status['2xx'] ?? 0) + (c.status['3xx'] ?? 0);
      sum.client += (c.status['4xx'] ?? 0) - code('429');
      sum.refused += code('429') + code('503');
      sum.failed += (c.status['5xx'] ?? 0) - code('503') + c.networkErrors;
    }
    const rate = (n: number) => (stage.durationS > 0 ? n / stage.durationS : 0);
    return {
      stage: stage.name,
      served: rate(sum.served),
      client: rate(sum.client),
      refused: exact ? rate(sum.refused) : null,
      failed: rate(sum.failed),
    };
  });
}
