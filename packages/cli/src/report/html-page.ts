// The HTML report's page: styles, layout, the embedded figures and the inlined uPlot. What it draws and how
// is in html-script.ts.

import type { ReportData } from './html.ts';
import { chartScript } from './html-script.ts';

export interface PageParts {
  title: string;
  data: ReportData;
  uplot: { script: string; style: string; copyright: string };
}

/** Inline `<script>` text must not close its element early. */
const inline = (text: string) => text.replace(/<\/(script)/gi, '<\\/$1');

/**
 * @example
 * htmlPage({ title, data: reportData(artifact), uplot });
 */
export function htmlPage({ title, data, uplot }: PageParts): string {
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${uplot.style}</style>
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem 2rem;color:#222;max-width:1000px}
h1{font-size:1.3rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}h3{font-size:1rem;margin:1.2rem 0 .2rem}
.meta{color:#555;margin:.2rem 0}
#headline{display:inline-block;padding:.1rem .6rem;border-radius:4px;color:#fff;background:#777}
#headline.pass{background:#1b5e20}#headline.fail{background:#b00020}#headline.insufficient-data{background:#8a6d00}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
td.text,th.text{text-align:left}
.fail{color:#b00020;font-weight:bold}.pass{color:#1b5e20}.insufficient{color:#8a6d00;font-weight:bold}
.note{color:#666;font-size:12px;margin:.2rem 0}.offscale{color:#8a6d00}
.chart{position:relative;margin:.4rem 0 1rem}
.tip{position:absolute;z-index:10;pointer-events:none;background:rgba(255,255,255,.95);border:1px solid #999;
  border-radius:3px;padding:.2rem .4rem;font-size:12px;white-space:nowrap}
</style></head><body>
<h1>headroom: <span id="name"></span> — <span id="headline"></span></h1>
<p class="meta" id="why"></p>
<p class="meta" id="run"></p>
<h2>Stages</h2>
<p class="note">Shaded bands on every chart: grey and hatched, a stage the gate does not judge (warm-up); blue, a judged stage.
Linear scales fit the judged stages, so a warm-up spike does not flatten steady state; the log scale shows everything.</p>
<table id="stages"><thead><tr><th class="text">stage</th><th class="text">judged</th><th>from s</th><th>to s</th><th>target /s</th><th>achieved /s</th><th>iterations</th><th>dropped</th><th>late starts</th></tr></thead><tbody></tbody></table>
<label><input type="checkbox" id="log"> log scale for latency</label>
<h2>Latency of the whole run, per second</h2>
<p class="note">p50 / p95 / p99 of admitted requests (429 and 503 answers excluded), from each request's intended start, all routes together. Budgets are per route: see the charts below.</p>
<div class="chart" id="latency"></div>
<h2>Throughput</h2>
<p class="note">Solid: answers per second as measured each second. Dashed steps: each stage's mean rate by class (2xx/3xx served, 4xx other than 429, 429/503 refused, 5xx other than 503 and no answer).</p>
<div class="chart" id="throughput"></div>
<section id="drills-section" hidden>
<h2>Drills</h2>
<p class="note">Criteria judged on the whole run (spike: refusals, admitted p99, recovery; soak: the target's memory slope and the p95's drift and spread across windows).</p>
<table id="drills"><thead><tr><th class="text">drill</th><th class="text">criterion</th><th class="text">verdict</th><th class="text">seen</th></tr></thead><tbody></tbody></table>
<div id="soak-charts"></div>
</section>
<h2>Gate</h2>
<table id="gate"><thead><tr><th class="text">route</th><th class="text">objective</th><th class="text">check</th><th>observed</th><th>limit</th><th class="text">verdict</th><th class="text">why</th></tr></thead><tbody></tbody></table>
<h2>Routes over the judged stages</h2>
<table id="routes"><thead><tr><th class="text">route</th><th>requests</th><th>refused 429/503</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>5xx + no answer</th><th class="text">verdict</th></tr></thead><tbody></tbody></table>
<h2>Latency per route, per stage, against its budgets</h2>
<p class="note">The run artifact keeps one histogram per stage and route, so a route's line moves once per stage; dashed lines are the route's budgets from the spec.</p>
<div id="route-charts"></div>
<script id="data" type="application/json">${json}</script>
<script>/* uPlot (MIT License, ${escapeHtml(uplot.copyright)}) */
${inline(uplot.script)}</script>
<script>
${inline(chartScript)}
</script></body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
