// The script of the HTML report, as text (it runs in the browser, not here): tables, and uPlot charts with
// time axes, stage bands, budget lines, a log-scale toggle and a cursor tooltip. Each chart's container
// carries what it drew as data attributes (tick labels, budget lines, scale), for tests and for people
// reading the DOM; `window.headroomCharts` holds the uPlot instances.

/** The report page's script, inlined after uPlot; it reads the figures from `<script id="data">`. */
export const chartScript = `
'use strict';
const data = JSON.parse(document.getElementById('data').textContent);
const charts = (window.headroomCharts = []);
const colors = { p50: '#2e7d32', p90: '#00838f', p95: '#ef6c00', p99: '#c62828', 'p99.9': '#6a1b9a' };
const num = (v) => String(+v.toPrecision(4));
const ms = (v) => (v == null ? '–' : (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ms');
const perSecond = (v) => (v == null ? '–' : v.toFixed(1) + '/s');
const width = () => Math.min(960, document.body.clientWidth || 960);
const stageAt = (t) => (t < 0 ? data.stages[0] : data.stages.find((s) => t >= s.start && t < s.end) || data.stages[data.stages.length - 1]);
// A timeline point at t counts the second before it.
const judgedAt = (t) => Boolean(stageAt(t - 0.5) && stageAt(t - 0.5).judge);

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}
function row(tbody, cells) {
  const tr = document.createElement('tr');
  for (const [text, cls] of cells) cell(tr, text, cls);
  tbody.appendChild(tr);
}

// Tick labels as drawn, recorded on the container: the canvas keeps no text a test could read.
function axes(el, yLabel, yFormat) {
  const record = (axis, labels) => {
    el.dataset[axis + 'Ticks'] = labels.filter((l) => l != null && l !== '').join('|');
    return labels;
  };
  return [
    { label: 'seconds into the run', labelSize: 24, values: (u, splits) => record('x', splits.map((v) => (v == null ? null : num(v) + ' s'))) },
    { label: yLabel, labelSize: 24, size: 56, values: (u, splits) => record('y', splits.map((v) => (v == null ? null : yFormat(v)))) },
  ];
}

// Stages as shaded bands behind the series, each named at the top; a stage the gate does not judge is grey
// and hatched, so warm-up reads as apart from what was judged.
function stageBands() {
  return {
    hooks: {
      drawClear: [
        (u) => {
          const { ctx } = u;
          const { left, top, width: w, height } = u.bbox;
          ctx.save();
          data.stages.forEach((s, i) => {
            const x0 = Math.max(left, u.valToPos(s.start, 'x', true));
            const x1 = Math.min(left + w, u.valToPos(s.end, 'x', true));
            if (x1 <= x0) return;
            ctx.fillStyle = s.judge ? (i % 2 ? 'rgba(66,133,244,0.06)' : 'rgba(66,133,244,0.12)') : 'rgba(120,120,120,0.16)';
            ctx.fillRect(x0, top, x1 - x0, height);
            if (s.judge) return;
            ctx.save();
            ctx.beginPath();
            ctx.rect(x0, top, x1 - x0, height);
            ctx.clip();
            ctx.beginPath();
            ctx.strokeStyle = 'rgba(120,120,120,0.3)';
            ctx.lineWidth = uPlot.pxRatio;
            for (let x = x0 - height; x < x1; x += 10 * uPlot.pxRatio) {
              ctx.moveTo(x, top + height);
              ctx.lineTo(x + height, top);
            }
            ctx.stroke();
            ctx.restore();
          });
          ctx.restore();
        },
      ],
      draw: [
        (u) => {
          const { ctx } = u;
          ctx.save();
          ctx.font = 11 * uPlot.pxRatio + 'px system-ui, sans-serif';
          ctx.fillStyle = '#555';
          ctx.textBaseline = 'top';
          ctx.textAlign = 'left';
          for (const s of data.stages) {
            const x = Math.max(u.bbox.left, u.valToPos(s.start, 'x', true)) + 4 * uPlot.pxRatio;
            ctx.fillText(s.name + (s.judge ? '' : ' · not judged'), x, u.bbox.top + 3 * uPlot.pxRatio);
          }
          ctx.restore();
        },
      ],
    },
  };
}

// A tooltip at the cursor: the second, its stage, and every shown series' value there.
function tooltip(format) {
  let tip;
  return {
    hooks: {
      init: [
        (u) => {
          tip = document.createElement('div');
          tip.className = 'tip';
          tip.style.display = 'none';
          u.over.appendChild(tip);
        },
      ],
      setCursor: [
        (u) => {
          const i = u.cursor.idx;
          if (i == null || u.cursor.left < 0) {
            tip.style.display = 'none';
            return;
          }
          const t = u.data[0][i];
          const lines = [num(t) + ' s · ' + stageAt(t).name];
          u.series.forEach((s, k) => {
            if (k > 0 && s.show && u.data[k][i] != null) lines.push(s.label + ': ' + format(u.data[k][i]));
          });
          tip.replaceChildren(...lines.map((text) => Object.assign(document.createElement('div'), { textContent: text })));
          tip.style.display = 'block';
          tip.style.left = Math.min(u.cursor.left + 12, u.over.clientWidth - 170) + 'px';
          tip.style.top = u.cursor.top + 12 + 'px';
        },
      ],
    },
  };
}

// A linear scale fits the judged stages and the budgets; what warm-up puts above that is named, not drawn
// over everything else. The log scale fits it all.
function latencyScale(el, log, judgedValues, allValues, budgets) {
  const finite = (vs) => vs.filter((v) => v != null && v > 0);
  const top = Math.max(...finite(judgedValues), ...budgets, 0);
  const peak = Math.max(...finite(allValues), 0);
  const note = el.parentNode.querySelector('.offscale[data-for="' + el.id + '"]');
  if (note) note.remove();
  el.dataset.scale = log ? 'log' : 'linear';
  if (log) return { distr: 3, log: 10 };
  const max = top > 0 ? top * 1.15 : peak > 0 ? peak * 1.15 : 1;
  if (peak > max) {
    const p = Object.assign(document.createElement('p'), {
      className: 'note offscale',
      textContent: 'Off this scale: up to ' + ms(peak) + ' outside the judged stages (tick "log scale" to see it).',
    });
    p.dataset.for = el.id;
    el.after(p);
  }
  return { range: [0, max] };
}

function chart(el, kind, opts, series) {
  const u = new uPlot(
    {
      width: width(),
      height: 280,
      scales: { x: { time: false, range: [0, data.durationS] }, y: opts.y },
      axes: axes(el, opts.yLabel, opts.yFormat),
      // ('values' would be uPlot's multi-value legend: the figures travel as 'data'.)
      series: [
        { label: 'second', value: (u, v) => (v == null ? '–' : num(v) + ' s') },
        ...series.map(({ data, ...s }) => ({ points: { show: false }, ...s })),
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      plugins: [stageBands(), tooltip(opts.format)],
    },
    [opts.x, ...series.map((s) => s.data)],
    el,
  );
  el.dataset.series = series.map((s) => s.label).join('|');
  charts.push({ id: el.id, kind, uplot: u });
  return u;
}

function latencyCharts(log) {
  for (const c of charts.filter((c) => c.kind === 'latency')) c.uplot.destroy();
  charts.splice(0, charts.length, ...charts.filter((c) => c.kind !== 'latency'));
  const runEl = document.getElementById('latency');
  runEl.replaceChildren();
  const tl = data.timeline;
  if (tl.t.length === 0) runEl.textContent = 'This artifact has no per-second timeline.';
  else {
    const judged = ['p50', 'p95', 'p99'].flatMap((m) => tl[m].filter((v, i) => judgedAt(tl.t[i])));
    const all = ['p50', 'p95', 'p99'].flatMap((m) => tl[m]);
    chart(
      runEl,
      'latency',
      { x: tl.t, y: latencyScale(runEl, log, judged, all, []), yLabel: 'latency (ms)', yFormat: num, format: ms },
      ['p50', 'p95', 'p99'].map((m) => ({ label: m, stroke: colors[m], width: 2, data: tl[m], value: (u, v) => ms(v) })),
    );
  }
  const holder = document.getElementById('route-charts');
  holder.replaceChildren();
  // A one-second grid, so the cursor moves smoothly across a route's per-stage steps.
  const grid = Array.from({ length: Math.ceil(data.durationS) + 1 }, (_, i) => i);
  const steps = uPlot.paths.stepped({ align: 1 });
  data.routes.forEach((r, index) => {
    const title = document.createElement('h3');
    title.textContent = r.route + (r.objective ? ' (' + r.objective + ')' : '') + ' — ' + r.verdict;
    title.className = r.verdict;
    const el = Object.assign(document.createElement('div'), { className: 'chart', id: 'route-' + index });
    el.dataset.route = r.route;
    holder.append(title, el);
    const metrics = Object.keys(r.stages[0] ? r.stages[0].values : {});
    const valueAt = (m, t) => {
      const s = r.stages[data.stages.indexOf(stageAt(t))];
      return s ? s.values[m] : null;
    };
    const judged = r.stages.filter((s, i) => data.stages[i].judge).flatMap((s) => metrics.map((m) => s.values[m]));
    const all = r.stages.flatMap((s) => metrics.map((m) => s.values[m]));
    const budgets = r.budgets.map((b) => ({
      label: b.metric + ' budget',
      stroke: colors[b.metric] || '#444',
      width: 1.5,
      dash: [8, 5],
      data: grid.map(() => b.limit),
      value: (u, v) => ms(v),
    }));
    el.dataset.budgets = JSON.stringify(budgets.map((b) => ({ label: b.label, value: b.data[0], color: b.stroke })));
    chart(
      el,
      'latency',
      { x: grid, y: latencyScale(el, log, judged, all, r.budgets.map((b) => b.limit)), yLabel: 'latency (ms)', yFormat: num, format: ms },
      [
        ...metrics.map((m) => ({ label: m, stroke: colors[m] || '#444', width: 2, paths: steps, data: grid.map((t) => valueAt(m, t)), value: (u, v) => ms(v) })),
        ...budgets,
      ],
    );
  });
}

function throughputChart() {
  const el = document.getElementById('throughput');
  const tl = data.timeline;
  const x = tl.t.length ? tl.t : Array.from({ length: Math.ceil(data.durationS) + 1 }, (_, i) => i);
  const steps = uPlot.paths.stepped({ align: 1 });
  const mean = (key) => x.map((t) => {
    const c = data.classes[data.stages.indexOf(stageAt(Math.max(0, t - 0.5)))];
    return c ? c[key] : null;
  });
  const series = [];
  if (tl.t.length) {
    series.push({ label: 'all answers /s', stroke: '#3949ab', width: 2, data: tl.requests });
    series.push({ label: '5xx + no answer /s', stroke: '#c62828', width: 2, data: tl.errors });
  }
  series.push({ label: '2xx/3xx /s (stage mean)', stroke: '#2e7d32', dash: [6, 4], paths: steps, data: mean('served') });
  series.push({ label: '4xx /s (stage mean)', stroke: '#8d6e63', dash: [6, 4], paths: steps, data: mean('client') });
  if (data.classes.every((c) => c.refused != null))
    series.push({ label: 'refused 429/503 /s (stage mean)', stroke: '#f9a825', dash: [6, 4], paths: steps, data: mean('refused') });
  series.push({ label: '5xx/no answer /s (stage mean)', stroke: '#6d1b1b', dash: [6, 4], paths: steps, data: mean('failed') });
  for (const s of series) s.value = (u, v) => perSecond(v);
  chart(el, 'throughput', { x, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] }, yLabel: 'answers per second', yFormat: num, format: perSecond }, series);
}

document.getElementById('name').textContent = data.name;
const headline = document.getElementById('headline');
headline.textContent = data.headline;
headline.className = data.headline.replace(/ /g, '-');
document.getElementById('why').textContent = data.why.join('; ');
const run = data.run;
document.getElementById('run').textContent =
  run.model + ' model against ' + run.target + ', started ' + run.startedAt + ', commit ' + run.commit + ' on ' + run.machine +
  '; generator event-loop delay p99 ' + run.eventLoopP99.toFixed(1) + ' ms' + (run.aborted ? '; aborted early: ' + run.aborted : '');
for (const s of data.stages)
  row(document.querySelector('#stages tbody'), [
    [s.name, 'text'], [s.judge ? 'yes' : 'no (warm-up)', 'text'], [num(s.start)], [num(s.end)],
    [s.targetRate == null ? '–' : s.targetRate.toFixed(1)], [s.achievedRate.toFixed(1)], [s.iterations], [s.dropped], [s.lateStarts],
  ]);
for (const r of data.routes) {
  if (r.checks.length === 0) row(document.querySelector('#gate tbody'), [[r.route, 'text'], [r.objective || '–', 'text'], ['(no objective)', 'text'], ['–'], ['–'], [r.verdict, 'text ' + r.verdict], ['', 'text']]);
  for (const c of r.checks)
    row(document.querySelector('#gate tbody'), [
      [r.route, 'text'], [r.objective || '–', 'text'], [c.title, 'text'], [c.observed], [c.limit], [c.verdict, 'text ' + c.verdict], [c.note, 'text'],
    ]);
  const s = r.summary;
  if (s)
    row(document.querySelector('#routes tbody'), [
      [r.route, 'text'], [s.requests], [s.refused], [s.p50.toFixed(2)], [s.p95.toFixed(2)], [s.p99.toFixed(2)], [s.max.toFixed(2)], [s.failures], [r.verdict, 'text ' + r.verdict],
    ]);
}
if (data.drills.length) document.getElementById('drills-section').hidden = false;
for (const d of data.drills)
  for (const c of d.checks)
    row(document.querySelector('#drills tbody'), [[d.drill, 'text'], [c.name, 'text'], [c.verdict, 'text ' + c.verdict], [c.detail, 'text']]);
function soakCharts() {
  const holder = document.getElementById('soak-charts');
  const add = (id, title) => {
    const h = document.createElement('h3');
    h.textContent = title;
    const el = Object.assign(document.createElement('div'), { className: 'chart', id });
    holder.append(h, el);
    return el;
  };
  if (data.memory && data.memory.t.length)
    chart(add('memory', "Target's resident memory (process_resident_memory_bytes)"), 'memory',
      { x: data.memory.t, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] }, yLabel: 'resident memory (MB)', yFormat: num, format: (v) => (v == null ? '–' : num(v) + ' MB') },
      [{ label: 'RSS', stroke: '#6a1b9a', width: 2, data: data.memory.mb, value: (u, v) => (v == null ? '–' : num(v) + ' MB') }]);
  if (data.windows && data.windows.t.length)
    chart(add('windows', 'p95 of admitted requests per soak window'), 'windows',
      { x: data.windows.t, y: { range: (u, min, max) => [0, Math.max(1, max * 1.2)] }, yLabel: 'latency (ms)', yFormat: num, format: ms },
      [{ label: 'window p95', stroke: colors.p95, width: 2, paths: uPlot.paths.stepped({ align: -1 }), data: data.windows.p95, value: (u, v) => ms(v) }]);
}
soakCharts();
const log = document.getElementById('log');
log.addEventListener('change', () => {
  latencyCharts(log.checked);
  document.body.dataset.scale = log.checked ? 'log' : 'linear';
});
latencyCharts(log.checked);
throughputChart();
document.body.dataset.drawn = 'true';
`;
