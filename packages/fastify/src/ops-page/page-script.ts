// The script of the operations page, as text (it runs in the browser, served as `assets/page.js`): it polls the
// state, fills each view's table, keeps a few minutes of each objective's p95 for its uPlot chart, and sends the
// actions with the session's CSRF token. Rows are keyed and only their text changes between polls, so a button
// keeps its focus and a reason being typed survives a refresh. Text goes in with textContent, never as markup.

import { histogramQuantile } from './route-series.ts';

/** The page's script; it expects uPlot (assets/uplot.js) loaded before it. */
export const pageScript = `'use strict';
(() => {
const meta = document.querySelector('meta[name="headroom-ops"]');
const prefix = meta.content;
const pollEvery = Number(meta.dataset.poll) || 3000;
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
// The server's estimator, so the chart and the tables agree on what a p95 is.
${String(histogramQuantile)}
const windowPolls = Number(meta.dataset.window) || 5;
const maxPoints = 200;
const charts = (window.headroomCharts = []);
const fmt = {
  ms: (v) => (v == null ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)),
  // Percentages to at most so many decimals, without trailing zeros: 99.9, 0.1, 100.
  pct: (v, digits) => (v == null ? '–' : String(Number((v * 100).toFixed(digits)))),
  n: (v) => (v == null ? '–' : String(v)),
  x: (v) => (v == null ? '–' : v.toFixed(2)),
  time: (ms) => (ms == null ? '–' : new Date(ms).toLocaleString()),
  value: (v) => (v === undefined ? '–' : String(v)),
};
const breach = (over) => (over ? 'breach' : '');
const mark = (text, over) => (over ? text + ' ✗' : text);

function say(message) {
  $('status').textContent = message;
}

// Rows keyed by name, built once; afterwards only their cells' text changes.
const tables = new WeakMap();
function sync(id, items, keyOf, columns, controls) {
  const table = $(id);
  const tbody = table.tBodies[0];
  let known = tables.get(table);
  if (!known) {
    known = { rows: new Map(), empty: document.createElement('tr') };
    const td = document.createElement('td');
    td.className = 'empty';
    td.colSpan = table.tHead.rows[0].cells.length;
    td.textContent = 'none';
    known.empty.appendChild(td);
    tables.set(table, known);
  }
  const keys = new Set();
  items.forEach((item, i) => {
    const key = keyOf(item);
    keys.add(key);
    let row = known.rows.get(key);
    if (!row) {
      const tr = document.createElement('tr');
      tr.dataset.key = key;
      const cells = columns.map(() => tr.appendChild(document.createElement('td')));
      row = { tr, cells };
      if (controls) row.controls = controls.build(item, tr.appendChild(document.createElement('td')));
      known.rows.set(key, row);
    }
    columns.forEach((column, c) => {
      const [text, cls] = column(item);
      const td = row.cells[c];
      if (td.textContent !== text) td.textContent = text;
      td.className = (c === 0 || typeof text !== 'string' || /^[^0-9–-]/.test(text) ? 'text ' : '') + (cls || '');
    });
    if (controls) controls.update(row.controls, item);
    if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
  });
  for (const [key, row] of known.rows) {
    if (!keys.has(key)) {
      row.tr.remove();
      known.rows.delete(key);
    }
  }
  if (items.length === 0) tbody.replaceChildren(known.empty);
  else known.empty.remove();
}

function button(label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}
function controlsIn(td, ...children) {
  const div = document.createElement('div');
  div.className = 'controls';
  div.append(...children);
  td.appendChild(div);
}

async function act(path, body, done) {
  say('Working…');
  let answer;
  try {
    const response = await fetch(prefix + '/api/' + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, accept: 'application/json' },
      body: JSON.stringify(body || {}),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (response.status === 401) return location.assign(prefix + '/sign-in');
    answer = await response.json();
    if (!response.ok) return say('Refused: ' + (answer.detail || response.status) + ' (' + (answer.code || response.status) + ')');
  } catch (error) {
    return say('Failed: ' + error.message);
  }
  say(done);
  refresh();
}
const enc = encodeURIComponent;

// SLOs: a table against the budgets, and a chart per objective of its p95 over the last polls.
const histories = new Map();
function windowP95(name, row, at) {
  const h = histories.get(name) || [];
  h.push({ at, counts: row.histogram.counts });
  while (h.length > windowPolls + 1) h.shift();
  histories.set(name, h);
  if (h.length < 2) return null;
  const last = h[h.length - 1].counts;
  // A route with no answers yet has no buckets: count from zero.
  const first = h[0].counts.length === last.length ? h[0].counts : last.map(() => 0);
  const buckets = last.map((count, i) => [i < row.histogram.edges.length ? row.histogram.edges[i] : Infinity, count - first[i]]);
  const q = histogramQuantile(buckets, 0.95);
  return q == null ? null : q * 1000;
}
function chartFor(row) {
  let chart = charts.find((c) => c.objective === row.name);
  if (chart) return chart;
  const holder = document.createElement('figure');
  holder.className = 'chart';
  holder.id = 'chart-' + charts.length;
  const title = document.createElement('h4');
  title.textContent = row.name + ' · ' + row.method + ' ' + row.route;
  holder.appendChild(title);
  $('slo-charts').appendChild(holder);
  const p95 = row.latency.find((l) => l.percentile === 'p95');
  const budget = p95 ? p95.budget_ms : null;
  const data = [[], [], []];
  const width = () => Math.max(260, Math.min(holder.clientWidth || 560, 1200));
  const record = (axis, labels) => {
    holder.dataset[axis + 'Ticks'] = labels.filter((l) => l != null && l !== '').join('|');
    return labels;
  };
  const u = new uPlot(
    {
      width: width(),
      height: 220,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max || 0, budget || 0, 1) * 1.2] } },
      axes: [
        { label: 'local time', labelSize: 20 },
        { label: 'p95 (ms)', labelSize: 20, size: 56, values: (u, splits) => record('y', splits.map((v) => fmt.ms(v))) },
      ],
      series: [
        { label: 'time' },
        { label: 'p95 (ms)', stroke: '#1d4ed8', width: 2, spanGaps: false, value: (u, v) => fmt.ms(v) },
        { label: 'budget (ms)', stroke: '#374151', width: 1.5, dash: [6, 4], value: (u, v) => fmt.ms(v) },
      ],
      legend: { live: true },
    },
    data,
    holder,
  );
  holder.dataset.series = 'p95 (ms)|budget (ms)';
  holder.dataset.budget = budget == null ? '' : String(budget);
  chart = { id: holder.id, objective: row.name, uplot: u, data, width };
  charts.push(chart);
  return chart;
}
addEventListener('resize', () => {
  for (const c of charts) c.uplot.setSize({ width: c.width(), height: 220 });
});

function drawSlos(state) {
  const percentiles = [...new Set(state.slos.flatMap((s) => s.latency.map((l) => l.percentile)))];
  const table = $('slo-table');
  const headings = ['Objective', 'Route', 'Requests', ...percentiles.map((p) => p + ' (ms)'), 'Errors (%)', 'Availability (%)', 'Error budget left (%)', 'Burn rate (×)', 'Burn 5 min (×)', 'Burn 1 h (×)'];
  if (table.tHead.rows[0].cells.length !== headings.length) {
    table.tHead.rows[0].replaceChildren(...headings.map((h) => Object.assign(document.createElement('th'), { scope: 'col', textContent: h })));
    tables.delete(table);
    table.tBodies[0].replaceChildren();
  }
  sync('slo-table', state.slos, (s) => s.name, [
    (s) => [s.name],
    (s) => [s.method ? s.method + ' ' + s.route : '–'],
    (s) => [fmt.n(s.requests)],
    ...percentiles.map((p) => (s) => {
      const l = s.latency.find((x) => x.percentile === p);
      if (!l) return ['–'];
      return [mark(fmt.ms(l.observed_ms) + (l.budget_ms == null ? '' : ' / ' + fmt.ms(l.budget_ms)), l.breached), breach(l.breached)];
    }),
    (s) => [mark(fmt.pct(s.error_ratio, 3) + (s.error_budget == null ? '' : ' / ' + fmt.pct(s.error_budget, 3)), s.errors_breached), breach(s.errors_breached)],
    (s) => [mark(fmt.pct(s.availability, 3) + (s.availability_target == null ? '' : ' / ' + fmt.pct(s.availability_target, 3)), s.availability_breached), breach(s.availability_breached)],
    (s) => [fmt.pct(s.budget_remaining, 1), breach(s.budget_remaining != null && s.budget_remaining < 0)],
    (s) => [fmt.x(s.burn_rate), breach(s.burn_rate != null && s.burn_rate > 1)],
    ...[0, 1].map((i) => (s) => {
      const w = s.burn[i];
      return [fmt.x(w.burn_rate) + (w.burn_rate != null && w.covered_s < w.window_s ? ' (' + Math.round(w.covered_s) + ' s)' : ''), breach(w.burn_rate != null && w.burn_rate > 1)];
    }),
  ]);
  const phases = state.slos.flatMap((s) => s.phases.map((p) => ({ ...p, objective: s.name })));
  sync('slo-phases', phases, (p) => p.objective + ' ' + p.phase, [
    (p) => [p.objective],
    (p) => [p.phase],
    (p) => [fmt.n(p.requests)],
    (p) => [mark(fmt.ms(p.p95_ms) + (p.budget_ms == null ? '' : ' / ' + fmt.ms(p.budget_ms)), p.breached), breach(p.breached)],
    (p) => [fmt.pct(p.within_budget, 2)],
  ]);
  for (const s of state.slos) {
    if (!s.method) continue;
    const chart = chartFor(s);
    const p95 = s.latency.find((l) => l.percentile === 'p95');
    chart.data[0].push(state.at / 1000);
    chart.data[1].push(windowP95(s.name, s, state.at));
    chart.data[2].push(p95 ? p95.budget_ms : null);
    for (const column of chart.data) while (column.length > maxPoints) column.shift();
    chart.uplot.setData(chart.data);
    document.getElementById(chart.id).dataset.points = String(chart.data[0].length);
  }
}

function drawOffenders(state) {
  const route = (r) => [r.method + ' ' + r.route];
  sync('slow-routes', state.offenders.by_latency, (r) => r.method + ' ' + r.route, [
    route,
    (r) => [fmt.n(r.requests)],
    (r) => [fmt.ms(r.p95_ms)],
    (r) => [r.p95_x_requests_s.toFixed(3)],
    (r) => [r.slow_trace_id || '–'],
  ]);
  sync('failing-routes', state.offenders.by_errors, (r) => r.method + ' ' + r.route, [
    route,
    (r) => [fmt.n(r.requests)],
    (r) => [fmt.n(r.errors)],
    (r) => [fmt.pct(r.error_ratio, 2)],
  ]);
  const slow = state.slow_queries;
  unavailable('slow-queries', slow && slow.data && slow.data.reason ? { error: slow.data.reason } : slow);
  sync('slow-queries', (slow && slow.data && slow.data.queries) || [], (q) => q.queryid, [
    (q) => [(q.statement ? q.statement + ': ' : '') + (q.query.length > 200 ? q.query.slice(0, 199) + '…' : q.query), 'wrap'],
    (q) => [q.routes.join(', ') || '–'],
    (q) => [fmt.n(q.calls)],
    (q) => [fmt.ms(q.total_ms)],
    (q) => [q.share_pct.toFixed(1)],
    (q) => [fmt.ms(q.mean_ms)],
    (q) => [fmt.ms(q.p95_estimate_ms)],
    (q) => [q.rows_per_call.toFixed(1)],
    (q) => [fmt.pct(q.hit_ratio, 1)],
  ]);
}

const breakerControls = {
  build(b, td) {
    const name = b.name;
    const reset = button('Reset', () => act('breakers/' + enc(name) + '/reset', {}, 'Breaker ' + name + ' reset.'));
    const isolate = button('Isolate', () => act('breakers/' + enc(name) + '/isolate', {}, 'Breaker ' + name + ' isolated.'));
    const release = button('Release', () => act('breakers/' + enc(name) + '/release', {}, 'Breaker ' + name + ' released.'));
    for (const [b2, what] of [[reset, 'Reset'], [isolate, 'Isolate'], [release, 'Release']]) b2.setAttribute('aria-label', what + ' breaker ' + name);
    controlsIn(td, reset, isolate, release);
    return { isolate, release };
  },
  update(c, b) {
    c.isolate.disabled = b.state === 'isolated';
    c.release.disabled = b.state !== 'isolated';
  },
};

// The degrader turns its features off through the flags' degrader channel; an operator's override wins.
const degraderControls = {
  build(d, td) {
    const reason = Object.assign(document.createElement('input'), { name: 'reason', maxLength: 500, autocomplete: 'off', placeholder: 'reason' });
    reason.setAttribute('aria-label', 'Reason for overriding rule ' + d.rule);
    const each = (path, body, done) => {
      const why = reason.value.trim();
      if (!why) {
        say('A reason is required to override rule ' + d.rule + '.');
        return reason.focus();
      }
      for (const f of d.features) act('flags/' + enc(f) + '/' + path, { ...body, reason: why }, done);
    };
    const keep = button('Keep features on', () => each('override', { value: true }, 'Features of ' + d.rule + ' kept on.'));
    keep.setAttribute('aria-label', 'Keep the features of rule ' + d.rule + ' on');
    const clear = button('Clear override', () => each('clear', {}, 'Overrides of ' + d.rule + ' cleared.'));
    clear.setAttribute('aria-label', 'Clear the overrides of rule ' + d.rule);
    controlsIn(td, reason, keep, clear);
    return {};
  },
  update() {},
};

function drawProtection(state) {
  sync('breakers', state.breakers, (b) => b.name, [
    (b) => [b.name],
    (b) => [b.state, breach(b.state !== 'closed')],
    (b) => [b.critical ? 'yes' : 'no'],
    (b) => [fmt.n(b.window.calls)],
    (b) => [fmt.pct(b.failureRate, 1)],
    (b) => [fmt.pct(b.slowCallRate, 1)],
    (b) => [b.openedAt ? fmt.time(b.openedAt) : '–'],
  ], breakerControls);
  sync('breaker-transitions', state.breaker_transitions, (t) => t.at + ' ' + t.breaker + ' ' + t.from + ' ' + t.to, [
    (t) => [fmt.time(t.at)],
    (t) => [t.breaker],
    (t) => [t.from],
    (t) => [t.to, breach(t.to === 'open' || t.to === 'isolated')],
    (t) => [t.reason],
  ]);
  unavailable('rate-limits', state.rate_limits);
  sync('rate-limits', (state.rate_limits && state.rate_limits.data) || [], (r) => r.tenant, [
    (r) => [r.tenant],
    (r) => [fmt.n(r.admitted)],
    (r) => [fmt.n(r.refused), breach(r.refused > 0)],
    (r) => [ratio(r.refused, r.admitted + r.refused)],
    (r) => { const used = Math.max(0, ...r.policies.map((p) => p.used_share)); return [fmt.pct(used, 1), breach(used >= 1)]; },
    (r) => [r.policies.map((p) => p.policy + ': ' + fmt.pct(p.used_share, 1) + '% · ' + p.refused).join(', ') || '–'],
    (r) => [r.last_refused_at ? fmt.time(Date.parse(r.last_refused_at)) : '–'],
  ]);
  sync('bulkheads', state.bulkheads, (b) => b.name, [
    (b) => [b.name],
    (b) => [fmt.n(b.inflight)],
    (b) => [fmt.n(b.maxConcurrent)],
    (b) => [fmt.n(b.queued)],
    (b) => [fmt.n(b.maxQueue)],
    (b) => [fmt.n(b.rejected), breach(b.rejected > 0)],
  ]);
  sync('degrader', state.degrader, (d) => d.rule, [
    (d) => [d.rule],
    (d) => [d.route],
    (d) => [d.state, breach(d.state === 'degraded' || d.state === 'breaching')],
    (d) => [fmt.time(d.since)],
    (d) => [d.features.join(', ')],
  ], degraderControls);
}

const ratio = (part, all) => (all > 0 ? fmt.pct(part / all, 1) : '–');
const answers = (r) => r.hit + r.stale + r.miss + (r.error || 0);
const tier = (r) => (answers(r) > 0 ? [r.hit, r.stale, r.miss].map((n) => ratio(n, answers(r))).join(' / ') : '–');
function drawCaches(state) {
  sync('caches', state.caches, (c) => c.name, [
    (c) => [c.name],
    (c) => [tier(c.requests.l1)],
    (c) => [fmt.n(answers(c.requests.l1))],
    (c) => [c.l2.store ? tier(c.requests.l2) : 'no L2'],
    (c) => [c.l2.store ? fmt.n(answers(c.requests.l2)) : '–'],
    (c) => [fmt.n(c.l1.entries)],
    (c) => [fmt.n(c.loads.total)],
    (c) => [fmt.n(c.loads.errors), breach(c.loads.errors > 0)],
    (c) => [c.bus.healthy == null ? 'no bus' : c.bus.healthy ? 'up · ' + c.bus.received + ' in, ' + c.bus.published + ' out' : 'down', breach(c.bus.healthy === false)],
    (c) => [c.bus.meanLagMs == null ? '–' : fmt.ms(c.bus.meanLagMs) + ' / ' + fmt.ms(c.bus.maxLagMs)],
  ]);
  const select = $('invalidate').elements.cache;
  const names = state.caches.map((c) => c.name);
  if ([...select.options].map((o) => o.value).join('\\n') !== names.join('\\n')) {
    select.replaceChildren(...names.map((n) => Object.assign(document.createElement('option'), { value: n, textContent: n })));
  }
}
$('invalidate').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.target.elements;
  const tags = form.tags.value.split(',').map((t) => t.trim()).filter(Boolean);
  act('caches/' + enc(form.cache.value) + '/invalidate', { tenant: form.tenant.value.trim(), tags }, 'Invalidated ' + tags.join(', ') + ' for tenant ' + form.tenant.value.trim() + '.');
});

const queueControls = {
  build(q, td) {
    const pause = button('Pause', () => act('queues/' + enc(q.queue) + '/pause', {}, 'Queue ' + q.queue + ' paused.'));
    const resume = button('Resume', () => act('queues/' + enc(q.queue) + '/resume', {}, 'Queue ' + q.queue + ' resumed.'));
    const redrive = button('Redrive all dead', () => act('queues/' + enc(q.queue) + '/redrive', {}, 'Dead jobs of ' + q.queue + ' redriven.'));
    pause.setAttribute('aria-label', 'Pause queue ' + q.queue);
    resume.setAttribute('aria-label', 'Resume queue ' + q.queue);
    redrive.setAttribute('aria-label', 'Redrive every dead job of queue ' + q.queue);
    controlsIn(td, pause, resume, redrive);
    return { pause, resume, redrive };
  },
  update(c, q) {
    c.pause.disabled = q.paused;
    c.resume.disabled = !q.paused;
    c.redrive.disabled = q.dead === 0;
  },
};
const deadControls = {
  build(j, td) {
    const redrive = button('Redrive', () => act('queues/' + enc(j.queue) + '/redrive', { id: j.id }, 'Job ' + j.id + ' redriven.'));
    redrive.setAttribute('aria-label', 'Redrive job ' + j.id + ' of queue ' + j.queue);
    controlsIn(td, redrive);
    return {};
  },
  update() {},
};
function unavailable(id, read) {
  const section = $(id).closest('.scroll');
  const note = section.previousElementSibling && section.previousElementSibling.classList.contains('note') ? section.previousElementSibling : null;
  const text = read == null ? 'Not registered in this service.' : read.error || '';
  if (note) note.textContent = text;
  else if (text) section.before(Object.assign(document.createElement('p'), { className: 'note', textContent: text }));
}
function drawWork(state) {
  unavailable('queues', state.queues);
  sync('queues', (state.queues && state.queues.data) || [], (q) => q.queue, [
    (q) => [q.queue],
    (q) => [q.paused ? 'yes' : 'no'],
    (q) => [fmt.n(q.ready)],
    (q) => [fmt.n(q.scheduled)],
    (q) => [fmt.n(q.running)],
    (q) => [fmt.n(q.dead), breach(q.dead > 0)],
    (q) => [(q.oldestReadyMs / 1000).toFixed(1)],
  ], queueControls);
  const dead = ((state.queues && state.queues.data) || []).flatMap((q) => q.dead_jobs.map((j) => ({ ...j, queue: q.queue })));
  sync('dead-jobs', dead, (j) => j.queue + ' ' + j.id, [
    (j) => [j.queue],
    (j) => [j.id],
    (j) => [j.tenant],
    (j) => [fmt.n(j.attempts)],
    (j) => [j.reason || '–'],
    (j) => [j.last_error || '–'],
    (j) => [fmt.time(j.finished_at)],
  ], deadControls);
  unavailable('webhooks', state.failing_webhooks);
  sync('webhooks', (state.failing_webhooks && state.failing_webhooks.data) || [], (w) => w.id, [
    (w) => [w.id],
    (w) => [w.url],
    (w) => [fmt.time(w.failingSince), 'breach'],
  ]);
}

const flagControls = {
  build(f, td) {
    const name = f.flag;
    const reason = Object.assign(document.createElement('input'), { name: 'reason', maxLength: 500, autocomplete: 'off', placeholder: 'reason' });
    reason.setAttribute('aria-label', 'Reason for changing ' + name);
    const need = () => {
      const text = reason.value.trim();
      if (!text) {
        say('A reason is required to change flag ' + name + '.');
        reason.focus();
      }
      return text;
    };
    const controls = { reason, kind: typeof f.value };
    if (typeof f.value === 'boolean') {
      controls.toggle = button('', () => {
        const why = need();
        if (why) act('flags/' + enc(name) + '/override', { value: !controls.value, reason: why }, 'Flag ' + name + ' turned ' + (!controls.value ? 'on' : 'off') + '.');
      });
    } else {
      controls.variant = Object.assign(document.createElement('input'), { name: 'variant', maxLength: 100, autocomplete: 'off', placeholder: 'variant' });
      controls.variant.setAttribute('aria-label', 'Variant for ' + name);
      controls.toggle = button('Set', () => {
        const why = need();
        if (why) act('flags/' + enc(name) + '/override', { value: controls.variant.value.trim(), reason: why }, 'Flag ' + name + ' set.');
      });
    }
    controls.clear = button('Clear override', () => {
      const why = need();
      if (why) act('flags/' + enc(name) + '/clear', { reason: why }, 'Override of ' + name + ' cleared.');
    });
    controls.clear.setAttribute('aria-label', 'Clear the override of ' + name);
    controlsIn(td, reason, ...(controls.variant ? [controls.variant] : []), controls.toggle, controls.clear);
    return controls;
  },
  update(c, f) {
    c.value = f.value;
    if (c.kind === 'boolean') {
      c.toggle.textContent = f.value ? 'Turn off' : 'Turn on';
      c.toggle.setAttribute('aria-label', (f.value ? 'Turn off ' : 'Turn on ') + f.flag);
    }
    c.clear.disabled = !('*' in f.overrides);
  },
};

function drawRelease(state) {
  const r = state.release;
  const c = state.config;
  const facts = [
    ['Service', r.service],
    ['Version', r.version],
    ['Commit', r.commit],
    ['Started', fmt.time(r.started_at)],
    ['Uptime (h)', r.uptime_s == null ? '–' : (r.uptime_s / 3600).toFixed(2)],
    ['Node', r.node],
    ['Config version', c ? c.version : 'no hot-reloaded config'],
    ...(c ? [['Config checksum', c.checksum], ['Config reloads', Object.entries(c.reloads).map(([k, v]) => k + ' ' + v).join(', ')], ['Last reload', c.last_reload + (c.detail && c.last_reload !== 'ok' ? ': ' + c.detail : '')]] : []),
  ];
  $('release-facts').replaceChildren(...facts.flatMap(([k, v]) => [Object.assign(document.createElement('dt'), { textContent: k }), Object.assign(document.createElement('dd'), { textContent: v })]));
  const flags = state.flags ? state.flags.data : [];
  sync('flags', flags, (f) => f.flag, [
    (f) => [f.flag],
    (f) => [fmt.value(f.value)],
    (f) => [f.reason],
    (f) => [Object.entries(f.overrides).map(([t, v]) => (t === '*' ? 'all' : t) + ': ' + v).join(', ') || '–'],
  ], flagControls);
  const changes = state.flags ? state.flags.changes : [];
  sync('flag-changes', changes, (x) => x.at + ' ' + x.flag + ' ' + x.action + ' ' + x.by + ' ' + (x.tenant || ''), [
    (x) => [fmt.time(x.at)],
    (x) => [x.flag],
    (x) => [x.action],
    (x) => [fmt.value(x.from)],
    (x) => [fmt.value(x.to)],
    (x) => [x.by],
    (x) => [x.reason],
  ]);
}

function draw(state) {
  drawSlos(state);
  drawOffenders(state);
  drawProtection(state);
  drawCaches(state);
  drawWork(state);
  drawRelease(state);
  const updated = $('updated');
  updated.dateTime = new Date(state.at).toISOString();
  updated.textContent = new Date(state.at).toLocaleTimeString();
  document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  document.body.dataset.drawn = 'true';
}

// One read at a time; a refresh asked for while one runs runs again after it, so an action's effect shows.
let running = null;
let again = false;
async function read() {
  try {
    const response = await fetch(prefix + '/api/state', { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
    if (response.status === 401) return location.assign(prefix + '/sign-in');
    if (!response.ok) throw new Error('HTTP ' + response.status);
    draw(await response.json());
  } catch (error) {
    say('Could not read the state: ' + error.message);
  }
}
function refresh() {
  if (running) {
    again = true;
    return running;
  }
  running = read().finally(() => {
    running = null;
    if (again) {
      again = false;
      refresh();
    }
  });
  return running;
}
let timer;
function loop() {
  clearTimeout(timer);
  // A hidden tab costs the service nothing; it reads again when shown.
  const next = document.hidden ? Promise.resolve() : refresh();
  next.then(() => {
    timer = setTimeout(loop, pollEvery);
  });
}
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) loop();
});
loop();
})();
`;
