// `npm run demo`: simulated shoppers drive the running shop over HTTP for a while, so the dashboard fills.
import { SimulatedBrowser } from './demo/browser.js';
import { type DemoCounters, nextShopper, USER_AGENTS } from './demo/shoppers.js';
import { shopPort } from './settings.js';

const base = process.env.SHOP_URL ?? `http://localhost:${shopPort()}`;
const seconds = Number(process.env.DEMO_SECONDS ?? 60);
const concurrency = Number(process.env.DEMO_SHOPPERS ?? 6);
/** Simulated reading time per real second: a shopper reads for a second or so and reports 20 s. */
const TIME_SCALE = 20;

if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(concurrency) || concurrency < 1) {
  console.error('[demo] DEMO_SECONDS must be a number above 0 and DEMO_SHOPPERS a whole number from 1.');
  process.exit(1);
}

const counters: DemoCounters = {
  requests: 0,
  pageViews: 0,
  orders: 0,
  clamped: 0,
  signIns: 0,
  failedSignIns: 0,
  limited: 0,
  errors: 0,
};
const started = Date.now();
const deadline = started + seconds * 1000;

try {
  const health = await fetch(new URL('/healthz', base), { signal: AbortSignal.timeout(3_000) });
  if (!health.ok) throw new Error(`/healthz answered ${health.status}`);
} catch (error) {
  console.error(
    `[demo] No shop answers at ${base} (${(error as Error).message}). Start it with \`npm start\` in another ` +
      'terminal, or set SHOP_URL to where it runs.',
  );
  process.exit(1);
}

console.log(`[demo] ${concurrency} simulated shoppers on ${base} for ${seconds} s`);
const tty = process.stdout.isTTY;
let lastPrinted = 0;
const progressLine = () => {
  const elapsed = Math.min(seconds, Math.round((Date.now() - started) / 1000));
  return (
    `[demo] ${String(elapsed).padStart(3)} s of ${seconds}: ${counters.requests} requests, ` +
    `${counters.pageViews} page views, ${counters.orders} orders, ${counters.limited} limited (429), ` +
    `${counters.errors} errors`
  );
};
const progress = setInterval(() => {
  if (tty) process.stdout.write(`\r${progressLine()}`);
  else if (Date.now() - lastPrinted >= 10_000) {
    lastPrinted = Date.now();
    console.log(progressLine());
  }
}, 1_000);

let visitor = 0;
async function lane(): Promise<void> {
  while (Date.now() < deadline) {
    visitor += 1;
    const visit = visitor;
    const userAgent = USER_AGENTS[visit % USER_AGENTS.length] as string;
    const browser = new SimulatedBrowser(
      base,
      userAgent,
      (hit) => {
        counters.requests += 1;
        if (hit.pageView) counters.pageViews += 1;
        if (hit.status === 429) counters.limited += 1;
        if (hit.status >= 500) counters.errors += 1;
      },
      TIME_SCALE,
      deadline,
    );
    try {
      await nextShopper(visit)(browser, counters);
    } catch (error) {
      counters.errors += 1;
      if (counters.errors <= 3) console.error(`\n[demo] a shopper failed: ${(error as Error).message}`);
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, () => lane()));
clearInterval(progress);
if (tty) process.stdout.write(`\r${progressLine()}\n`);
console.log(
  [
    `[demo] done in ${Math.round((Date.now() - started) / 1000)} s: ${visitor} visits, ${counters.requests} requests`,
    `  page views          ${counters.pageViews} (with time-on-page beacons, ${TIME_SCALE}× real reading time)`,
    `  orders placed       ${counters.orders}`,
    `  carts clamped       ${counters.clamped} (asked for more than was left)`,
    `  sign-ins            ${counters.signIns} correct, ${counters.failedSignIns} wrong passwords`,
    `  refused (429)       ${counters.limited} by the rate limits`,
    `  server errors       ${counters.errors}`,
    `Open ${base}/admin (admin / admin-demo) to see the dashboard.`,
  ].join('\n'),
);
process.exit(counters.errors > 0 ? 1 : 0);
