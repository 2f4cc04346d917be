// The HTML of the operations page and of its sign-in form: markup only, no inline script or style (the
// Content-Security-Policy allows neither); page.js fills the views from the JSON API.

/** What the page's markup needs to know. */
export interface PageFacts {
  prefix: string;
  service: string;
  /** The session's CSRF token, for page.js to send with each action. */
  csrfToken: string;
  /** How often page.js polls the state (ms). */
  pollInterval: number;
}

/** Polls the live p95 chart spans: each point is the p95 of the answers over this many poll intervals. */
export const liveWindowPolls = 5;

const escapeHtml = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

function document(prefix: string, title: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(prefix)}/assets/page.css">
${head}</head><body>
${body}
</body></html>
`;
}

/**
 * The page: a header, a skip list, and one section per view, each with its heading and empty tables that
 * page.js fills and refreshes.
 *
 * @example
 * reply.type('text/html').send(opsPageHtml({ prefix, service, csrfToken, pollInterval: 3000 }));
 */
export function opsPageHtml(facts: PageFacts): string {
  const p = escapeHtml(facts.prefix);
  const head = `<meta name="csrf-token" content="${escapeHtml(facts.csrfToken)}">
<meta name="headroom-ops" content="${p}" data-poll="${facts.pollInterval}" data-window="${liveWindowPolls}">
<link rel="stylesheet" href="${p}/assets/uplot.css">
<script src="${p}/assets/uplot.js" defer></script>
<script src="${p}/assets/page.js" defer></script>
`;
  const table = (id: string, caption: string, headings: string[]) =>
    `<div class="scroll" role="region" aria-labelledby="${id}-caption" tabindex="0"><table id="${id}"><caption id="${id}-caption">${caption}</caption>
<thead><tr>${headings.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead><tbody></tbody></table></div>`;
  const body = `<header>
<h1>Operations · <span id="service">${escapeHtml(facts.service)}</span></h1>
<p class="meta">Updated <time id="updated">never</time> · every ${facts.pollInterval / 1000} s</p>
<form method="post" action="${p}/sign-out"><input type="hidden" name="csrf_token" value="${escapeHtml(facts.csrfToken)}"><button type="submit">Sign out</button></form>
</header>
<nav aria-label="Views"><ul>
<li><a href="#slos">SLOs</a></li><li><a href="#offenders">Top offenders</a></li><li><a href="#protection">Protection</a></li>
<li><a href="#cache">Cache</a></li><li><a href="#work">Work</a></li><li><a href="#release">Release and config</a></li>
</ul></nav>
<p id="status" role="status" aria-live="polite"></p>
<main>
<section id="slos" aria-labelledby="slos-h"><h2 id="slos-h">SLOs</h2>
<p class="note">Since this process started; each cell is seen / budget, ✗ marks a breach. A latency budget is breached when fewer answers than its percentile are within it.</p>
${table('slo-table', 'Objectives against their budgets', ['Objective', 'Route', 'Requests', 'p50 (ms)', 'p95 (ms)', 'p99 (ms)', 'Errors (%)', 'Availability (%)', 'Error budget left (%)', 'Burn rate (×)', 'Burn 5 min (×)', 'Burn 1 h (×)'])}
<p class="note">Burn rate: the failed share ÷ the error budget; 1 spends the budget exactly over its period, 14.4 over an hour spends 2% of a 30-day budget. The 5-minute and 1-hour windows come from samples the service takes every 15 s (<code>burnSampleInterval</code>).</p>
${table('slo-phases', 'Where the time goes: each phase of a budgeted route (self time)', ['Objective', 'Phase', 'Requests that ran it', 'p95 (ms)', 'Within budget (%)'])}
<h3>p95 of the last ${(liveWindowPolls * facts.pollInterval) / 1000} s (ms), budget dashed</h3>
<div id="slo-charts" class="charts"></div>
</section>
<section id="offenders" aria-labelledby="offenders-h"><h2 id="offenders-h">Top offenders</h2>
${table('slow-routes', 'Slowest routes: p95 × requests', ['Route', 'Requests', 'p95 (ms)', 'p95 × requests (s)', 'Slow trace'])}
${table('failing-routes', 'Failing routes: 5xx answers', ['Route', 'Requests', '5xx', '5xx (%)'])}
${table('slow-queries', 'Slowest statements: total database time (pg_stat_statements)', ['Statement', 'Routes', 'Calls', 'Total (ms)', 'Share (%)', 'Mean (ms)', 'p95 est. (ms)', 'Rows per call', 'Cache hit (%)'])}
</section>
<section id="protection" aria-labelledby="protection-h"><h2 id="protection-h">Protection</h2>
${table('breakers', 'Circuit breakers', ['Breaker', 'State', 'Critical', 'Calls in window', 'Failures (%)', 'Slow calls (%)', 'Opened at', 'Actions'])}
${table('breaker-transitions', 'Recent breaker transitions', ['At', 'Breaker', 'From', 'To', 'Why'])}
${table('rate-limits', 'Rate limits by tenant: the most refused first (since start)', ['Tenant', 'Admitted', 'Refused (429)', 'Refused (%)', 'Quota used (%)', 'By policy: used % · refused', 'Last refused'])}
${table('bulkheads', 'Bulkheads', ['Bulkhead', 'In flight', 'Max concurrent', 'Queued', 'Max queue', 'Rejected'])}
${table('degrader', 'SLO degrader', ['Rule', 'Route', 'State', 'Since', 'Features', 'Override (reason required)'])}
</section>
<section id="cache" aria-labelledby="cache-h"><h2 id="cache-h">Cache</h2>
${table('caches', 'Caches: answers by tier', ['Cache', 'L1 hit / stale / miss (%)', 'L1 answers', 'L2 hit / stale / miss (%)', 'L2 answers', 'L1 entries', 'Loads', 'Load errors', 'Bus', 'Bus lag mean / max (ms)'])}
<form id="invalidate" class="inline">
<fieldset><legend>Invalidate by tag, for one tenant</legend>
<label>Cache <select name="cache" required></select></label>
<label>Tenant <input name="tenant" required maxlength="200" autocomplete="off"></label>
<label>Tags (comma-separated) <input name="tags" required maxlength="2000" autocomplete="off"></label>
<button type="submit">Invalidate</button></fieldset></form>
</section>
<section id="work" aria-labelledby="work-h"><h2 id="work-h">Work</h2>
${table('queues', 'Job queues', ['Queue', 'Paused', 'Ready', 'Scheduled', 'Running', 'Dead', 'Oldest ready (s)', 'Actions'])}
${table('dead-jobs', 'Dead letters (the first of each queue)', ['Queue', 'Job', 'Tenant', 'Attempts', 'Why', 'Last error', 'Died at', 'Actions'])}
${table('webhooks', 'Failing webhook endpoints', ['Endpoint', 'URL', 'Failing since'])}
</section>
<section id="release" aria-labelledby="release-h"><h2 id="release-h">Release and config</h2>
<dl id="release-facts"></dl>
${table('flags', 'Feature flags', ['Flag', 'Value', 'Why', 'Overrides', 'Change (reason required)'])}
${table('flag-changes', 'Recent flag changes', ['At', 'Flag', 'Action', 'From', 'To', 'By', 'Reason'])}
</section>
</main>`;
  return document(facts.prefix, `Operations · ${facts.service}`, head, body);
}

/** What the sign-in form says above itself. */
export interface SignInFacts {
  prefix: string;
  service: string;
  /** An error or a refusal to show; none on a first visit. */
  message?: string;
}

/**
 * The sign-in form: an operator token, or an email and a password, checked by the service's own
 * authentication.
 *
 * @example
 * reply.code(401).type('text/html').send(signInHtml({ prefix, service, message: 'not valid' }));
 */
export function signInHtml(facts: SignInFacts): string {
  const p = escapeHtml(facts.prefix);
  const message =
    facts.message === undefined ? '' : `<p class="alert" role="alert">${escapeHtml(facts.message)}</p>`;
  const body = `<main class="narrow">
<h1>Operations · ${escapeHtml(facts.service)}</h1>
${message}
<form method="post" action="${p}/sign-in">
<fieldset><legend>Operator token</legend>
<label>Token <input type="password" name="token" autocomplete="off" maxlength="1024" required></label>
<button type="submit">Sign in with the token</button>
</fieldset>
</form>
<form method="post" action="${p}/sign-in">
<fieldset><legend>Or your email and password</legend>
<label>Email <input type="email" name="email" autocomplete="username" maxlength="254" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" maxlength="1024" required></label>
<button type="submit">Sign in</button>
</fieldset>
</form>
</main>`;
  return document(facts.prefix, `Sign in · ${facts.service}`, '', body);
}

/**
 * The answer to someone who signed in but is no operator.
 *
 * @example
 * reply.code(403).type('text/html').send(refusedHtml({ prefix, service }));
 */
export function refusedHtml(facts: Omit<SignInFacts, 'message'>): string {
  const body = `<main class="narrow">
<h1>Operations · ${escapeHtml(facts.service)}</h1>
<p class="alert" role="alert">The operations page needs the operator role. You signed in, but not as an operator.</p>
<p><a href="${escapeHtml(facts.prefix)}/sign-in">Sign in as an operator</a></p>
</main>`;
  return document(facts.prefix, `Not an operator · ${facts.service}`, '', body);
}
