// The admin dashboard: charts from /admin/data.json (Chart.js), live numbers from the /admin/live stream.
(() => {
  const $ = (id) => document.getElementById(id);
  const charts = {};
  const palette = ['#b4432f', '#2f7d4f', '#3b5ba5', '#a66a00', '#7a3fa0', '#2a8c8c', '#c25b87', '#5f6b76'];

  const seconds = (ms) => (ms === null || ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`);
  const money = (cents) => `$${(cents / 100).toFixed(2)}`;

  function chart(id, type, labels, datasets, stacked) {
    const data = { labels, datasets };
    if (charts[id]) {
      charts[id].data = data;
      charts[id].update();
      return;
    }
    charts[id] = new Chart($(id), {
      type,
      data,
      options: {
        animation: false,
        responsive: true,
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
        scales: { x: { stacked }, y: { stacked, beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  function rows(tbody, items) {
    tbody.replaceChildren(
      ...items.map((cells) => {
        const tr = document.createElement('tr');
        for (const [text, numeric] of cells) {
          const td = document.createElement('td');
          td.textContent = text;
          if (numeric) td.className = 'num';
          tr.append(td);
        }
        return tr;
      }),
    );
  }

  async function refresh() {
    const response = await fetch('/admin/data.json', { headers: { accept: 'application/json' } });
    if (!response.ok) return;
    const data = await response.json();
    $('views-today').textContent = data.todayViews;
    $('uniques-today').textContent = data.todayUniques;
    $('time-on-page').textContent = seconds(data.avgTimeOnPageMs);
    $('cache-ratio').textContent =
      data.cache?.hitRatio == null ? '–' : `${Math.round(data.cache.hitRatio * 100)}%`;
    $('orders-today').textContent = `${data.orders.orders} · ${money(data.orders.revenueCents)}`;
    $('queue').textContent = `${data.queue.pending} / ${data.queue.processing} / ${data.queue.dead}`;
    const days = data.days.map((d) => d.slice(5));
    chart(
      'views-chart',
      'bar',
      days,
      data.viewsPerDay.map((r, i) => ({
        label: r.route,
        data: r.views,
        backgroundColor: palette[i % palette.length],
      })),
      true,
    );
    chart(
      'uniques-chart',
      'bar',
      days,
      [{ label: 'unique visitors', data: data.uniquesPerDay, backgroundColor: palette[2] }],
      false,
    );
    chart(
      'limits-chart',
      'line',
      data.rateLimits[0]?.blockedPerMinute.map((_, i, all) => `-${all.length - 1 - i}m`) ?? [],
      data.rateLimits.map((l, i) => ({
        label: l.name,
        data: l.blockedPerMinute,
        borderColor: palette[i % palette.length],
        pointRadius: 0,
      })),
      false,
    );
    rows(
      $('top-pages'),
      data.topPages.map((p) => [
        [p.route],
        [p.views, true],
        [p.uniques, true],
        [seconds(p.avgTimeOnPageMs), true],
      ]),
    );
    rows(
      $('cache'),
      data.cache
        ? ['hits', 'stale', 'misses', 'bypass', 'stored'].map((name) => [
            [name],
            [data.cache[name] ?? 0, true],
          ])
        : [],
    );
    rows(
      $('limits'),
      data.rateLimits.map((l) => [
        [l.name],
        [l.allowed, true],
        [l.blocked, true],
        [l.topBlocked.map((k) => `${k.key} (${k.blocked})`).join(', ') || '–'],
      ]),
    );
    rows(
      $('workers'),
      data.queue.consumers.map((c) => [[c.name], [c.processing, true], [idle(c.idleMs), true]]),
    );
  }

  function idle(ms) {
    if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
    return ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 3_600_000)} h`;
  }

  function live() {
    const source = new EventSource('/admin/live');
    const onSummary = (event) => {
      const summary = JSON.parse(event.data);
      if (summary.live) {
        $('live-visitors').textContent = summary.live.visitors;
        $('live-views').textContent = summary.live.views;
      }
      if (summary.live?.routes) {
        const routes = Object.entries(summary.live.routes).sort((a, b) => b[1] - a[1]);
        const items = routes.map(([route, views]) => {
          const li = document.createElement('li');
          li.textContent = route;
          const count = document.createElement('span');
          count.textContent = views;
          li.append(count);
          return li;
        });
        $('live-feed').replaceChildren(...items);
        $('live-updated').textContent = `updated ${new Date(summary.at).toLocaleTimeString()}`;
      }
    };
    source.addEventListener('snapshot', onSummary);
    source.addEventListener('summary', onSummary);
  }

  refresh();
  setInterval(refresh, 10_000);
  live();
})();
