// The admin dashboard page: numbers filled in by /static/dashboard.js from /admin/data.json and the live stream.
import { html, type SafeHtml } from './html.js';

const kpi = (id: string, label: string, extra = '') =>
  html`<div class="kpi ${extra}"><div class="label">${label}</div><div class="value" id="${id}" data-testid="${id}">–</div></div>`;

export function dashboardPage(): SafeHtml {
  return html`<h1>Dashboard</h1>
<section class="kpis">
  ${kpi('live-visitors', 'Visitors, last 5 minutes', 'live')}
  ${kpi('live-views', 'Views, last 5 minutes', 'live')}
  ${kpi('views-today', 'Page views today')}
  ${kpi('uniques-today', 'Unique visitors today')}
  ${kpi('time-on-page', 'Avg. time on page')}
  ${kpi('cache-ratio', 'Cache hit ratio')}
  ${kpi('orders-today', 'Orders today')}
  ${kpi('queue', 'Orders waiting / processing / dead')}
</section>
<section class="panels">
  <div class="panel"><h2>Page views per day, by route</h2><canvas id="views-chart" height="220"></canvas></div>
  <div class="panel"><h2>Unique visitors per day</h2><canvas id="uniques-chart" height="220"></canvas></div>
  <div class="panel"><h2><span class="pulse"></span>Live: top pages, last 5 minutes <small id="live-updated"></small></h2><ul id="live-feed" class="summary" data-testid="live-feed"></ul></div>
  <div class="panel"><h2>Top pages today</h2>
    <table><thead><tr><th>Route</th><th class="num">Views</th><th class="num">Visitors</th><th class="num">Avg. time</th></tr></thead>
    <tbody id="top-pages"></tbody></table></div>
  <div class="panel"><h2>Response cache (this process)</h2>
    <table><thead><tr><th>Outcome</th><th class="num">Requests</th></tr></thead><tbody id="cache"></tbody></table>
    <p class="hint">Visitors with a session bypass the cache: their pages show their own cart.</p></div>
  <div class="panel"><h2>Rate-limit blocks, last hour</h2><canvas id="limits-chart" height="220"></canvas>
    <table><thead><tr><th>Limiter</th><th class="num">Allowed</th><th class="num">Blocked</th><th>Most blocked</th></tr></thead>
    <tbody id="limits"></tbody></table></div>
  <div class="panel"><h2>Order workers</h2>
    <table><thead><tr><th>Consumer</th><th class="num">Processing</th><th class="num">Last read</th></tr></thead>
    <tbody id="workers" data-testid="workers"></tbody></table>
    <p class="hint">One consumer per shop process, reading the order stream as a group. An order a crashed
    worker held is taken over after 30 s; one that fails three deliveries goes to the dead-letter stream.</p></div>
</section>
<script src="/vendor/chart.js/chart.umd.js"></script>
<script src="/static/dashboard.js" defer></script>`;
}
