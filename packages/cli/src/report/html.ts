// One self-contained HTML file: the run's data embedded as JSON, drawn into SVG charts by an inline script
// (percentiles over time, req/s, errors, and a per-route table with budget lines). No network, no library.

import type { RunArtifact } from '../artifact.ts';
import { routesOf } from '../compare/compare.ts';

/**
 * @example
 * await writeFile('headroom.html', htmlReport(artifact));
 */
export function htmlReport(artifact: RunArtifact): string {
  const routes = [...routesOf(artifact)].map(([route, stats]) => {
    const gate = artifact.gate?.routes.find((r) => r.route === route);
    const limits = Object.fromEntries((gate?.checks ?? []).map((c) => [c.metric, c.limit]));
    return {
      route,
      samples: stats.count,
      p50: stats.percentileMs(50),
      p95: stats.percentileMs(95),
      p99: stats.percentileMs(99),
      errors: stats.errorShare,
      limits,
      verdict: gate?.verdict ?? 'unjudged',
    };
  });
  const data = {
    name: artifact.scenario.name,
    verdict: artifact.gate?.verdict ?? 'not judged',
    timeline: artifact.result.timeline,
    routes,
  };
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>headroom: ${escapeHtml(artifact.scenario.name)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#222}h1{font-size:1.3rem}
.chart{margin:1rem 0}svg{background:#fafafa;border:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}td:first-child{text-align:left}
.fail{color:#b00020;font-weight:bold}.pass{color:#1b5e20}.insufficient{color:#8a6d00}
.bar{fill:#5c6bc0}.budget{stroke:#b00020;stroke-dasharray:4 3}
</style></head><body>
<h1>headroom: <span id="name"></span> — <span id="verdict"></span></h1>
<div class="chart" id="latency"><h2>Latency over time (ms, from intended start)</h2></div>
<div class="chart" id="throughput"><h2>Requests per second</h2></div>
<div class="chart" id="errors"><h2>Errors per second (5xx and network)</h2></div>
<h2>Routes</h2><table id="routes"><thead><tr><th>route</th><th>samples</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>errors</th><th>verdict</th></tr></thead><tbody></tbody></table>
<h2>p95 per route against its budget</h2><div class="chart" id="budgets"></div>
<script id="data" type="application/json">${json}</script>
<script>
const data = JSON.parse(document.getElementById('data').textContent);
const NS = 'http://www.w3.org/2000/svg';
const el = (name, attrs, parent) => { const e = document.createElementNS(NS, name); for (const k in attrs) e.setAttribute(k, attrs[k]); parent && parent.appendChild(e); return e; };
function lineChart(id, series) {
  const W = 800, H = 220, P = 36, pts = data.timeline;
  const svg = el('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H });
  const maxT = Math.max(1, ...pts.map(p => p.t)), maxY = Math.max(1e-9, ...series.flatMap(s => pts.map(p => p[s.key])));
  const x = t => P + (t / maxT) * (W - 2 * P), y = v => H - P - (v / maxY) * (H - 2 * P);
  el('line', { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: '#999' }, svg);
  el('text', { x: 4, y: P - 8, 'font-size': 11 }, svg).textContent = maxY.toFixed(maxY < 10 ? 2 : 0);
  series.forEach(s => {
    const d = pts.map((p, i) => (i ? 'L' : 'M') + x(p.t).toFixed(1) + ' ' + y(p[s.key]).toFixed(1)).join(' ');
    el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, class: 'series', 'data-key': s.key }, svg);
  });
  series.forEach((s, i) => { el('text', { x: W - P - 60, y: P + 14 * i, fill: s.color, 'font-size': 12 }, svg).textContent = s.key; });
  document.getElementById(id).appendChild(svg);
}
document.getElementById('name').textContent = data.name;
document.getElementById('verdict').textContent = data.verdict;
lineChart('latency', [{ key: 'p50', color: '#2e7d32' }, { key: 'p95', color: '#f9a825' }, { key: 'p99', color: '#c62828' }]);
lineChart('throughput', [{ key: 'requests', color: '#3949ab' }]);
lineChart('errors', [{ key: 'errors', color: '#c62828' }]);
const tbody = document.querySelector('#routes tbody');
for (const r of data.routes) {
  const tr = document.createElement('tr');
  [r.route, r.samples, r.p50.toFixed(2), r.p95.toFixed(2), r.p99.toFixed(2), (r.errors * 100).toFixed(2) + '%', r.verdict].forEach((v, i) => {
    const td = document.createElement('td'); td.textContent = v; if (i === 6) td.className = r.verdict; tr.appendChild(td);
  });
  tbody.appendChild(tr);
}
(function budgets() {
  const W = 800, rowH = 26, P = 260, H = rowH * data.routes.length + 20;
  const svg = el('svg', { width: W, height: H });
  const max = Math.max(1e-9, ...data.routes.map(r => Math.max(r.p95, r.limits.p95 || 0)));
  const x = v => P + (v / max) * (W - P - 20);
  data.routes.forEach((r, i) => {
    const top = 10 + i * rowH;
    el('text', { x: 4, y: top + 14, 'font-size': 12 }, svg).textContent = r.route;
    el('rect', { x: P, y: top + 2, width: Math.max(1, x(r.p95) - P), height: rowH - 8, class: 'bar' }, svg);
    if (r.limits.p95) el('line', { x1: x(r.limits.p95), x2: x(r.limits.p95), y1: top, y2: top + rowH - 4, class: 'budget' }, svg);
  });
  document.getElementById('budgets').appendChild(svg);
})();
document.body.dataset.drawn = 'true';
</script></body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
