// The browser script, run in a vm with stubbed browser APIs: it sends the page's visible time with sendBeacon.
import { createContext, runInContext } from 'node:vm';
import express from 'express';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { type PageViewsMiddleware, pageViews } from '../../src/index.js';
import { useTestRedis } from '../helpers/redis.js';
import { BROWSER_UA, configOf, HTML_PAGE, scriptSrc, todayUtc } from './support.js';

const redis = useTestRedis();
const views: PageViewsMiddleware = pageViews({
  redis: redis.client,
  prefix: redis.prefix('client:'),
  secret: 'client-script-test-secret-0123456789abcdef',
  flushInterval: '1h',
});
afterAll(() => views.close());

const app = express();
app.use(views);
app.get('/article/:slug', (req, res) => {
  res.send(`${HTML_PAGE}${views.scriptTag(req)}`);
});

interface Sent {
  url: string;
  blob: Blob;
}

/** A page with the served script running in it: visibility, clock and sendBeacon are under the test's control. */
function browserPage(script: string, { visible = true, beacon = true } = {}) {
  const listeners = new Map<string, ((event?: unknown) => void)[]>();
  const on = (type: string, fn: (event?: unknown) => void) =>
    listeners.set(type, [...(listeners.get(type) ?? []), fn]);
  const fire = (type: string, event?: unknown) => {
    for (const fn of listeners.get(type) ?? []) fn(event);
  };
  const sent: Sent[] = [];
  let now = 1_000;
  const document = { visibilityState: visible ? 'visible' : 'hidden', addEventListener: on };
  const window = { performance: { now: () => now }, addEventListener: on };
  const navigator = beacon
    ? {
        sendBeacon(this: unknown, url: string, blob: Blob) {
          if (this !== navigator) throw new TypeError('Illegal invocation');
          sent.push({ url, blob });
          return true;
        },
      }
    : {};
  const context = createContext({ document, window, navigator, Blob });
  runInContext(script, context);
  return {
    sent,
    advance(ms: number) {
      now += ms;
    },
    hide() {
      document.visibilityState = 'hidden';
      fire('visibilitychange');
    },
    show() {
      document.visibilityState = 'visible';
      fire('visibilitychange');
    },
    pagehide() {
      fire('pagehide', { persisted: false });
    },
    restoreFromCache() {
      document.visibilityState = 'visible';
      fire('pageshow', { persisted: true });
    },
    listeners,
    /** The names defined on the page's global object and on the browser objects it was given. */
    names: () => ({
      global: Object.keys(context).sort(),
      window: Object.keys(window).sort(),
      document: Object.keys(document).sort(),
      navigator: Object.keys(navigator).sort(),
    }),
  };
}

async function servedScript(): Promise<string> {
  const page = await request(app).get('/article/hello').set('user-agent', BROWSER_UA).expect(200);
  const src = scriptSrc(page.text);
  return (await request(app).get(src).expect(200)).text;
}

async function payload(sent: Sent): Promise<{ t: string; s: number; ms: number }> {
  return JSON.parse(await sent.blob.text());
}

describe('the client script', () => {
  it('defines no globals and sets no cookie or storage, before and after it reports', async () => {
    const page = browserPage(await servedScript());
    const given = {
      global: ['Blob', 'document', 'navigator', 'window'],
      window: ['addEventListener', 'performance'],
      document: ['addEventListener', 'visibilityState'],
      navigator: ['sendBeacon'],
    };
    expect(page.names()).toEqual(given);
    page.advance(2_000);
    page.hide();
    page.show();
    page.pagehide();
    expect(page.sent).toHaveLength(1);
    expect(page.names()).toEqual(given);
  });

  it('sends the visible time as a text/plain Blob on hide and on pagehide, cumulatively', async () => {
    const script = await servedScript();
    const { t } = configOf(script);
    const page = browserPage(script);
    page.advance(5_000);
    page.hide();
    expect(page.sent).toHaveLength(1);
    expect(page.sent[0]?.url).toBe('/_pv');
    expect(page.sent[0]?.blob.type).toBe('text/plain');
    expect(await payload(page.sent[0] as Sent)).toEqual({ t, s: 1, ms: 5_000 });

    // hidden time does not count, and pagehide right after hiding sends nothing new
    page.advance(60_000);
    page.pagehide();
    expect(page.sent).toHaveLength(1);

    page.show();
    page.advance(3_000);
    page.pagehide();
    expect(page.sent).toHaveLength(2);
    expect(await payload(page.sent[1] as Sent)).toEqual({ t, s: 2, ms: 8_000 });

    // the server accepts both beacons of this view, and the total is 8 s for one view
    for (const sent of page.sent) {
      await request(app)
        .post(sent.url)
        .set('content-type', sent.blob.type)
        .send(await sent.blob.text())
        .expect(204);
    }
    // a replay of the first beacon is refused
    await request(app)
      .post('/_pv')
      .set('content-type', 'text/plain')
      .send(await (page.sent[0] as Sent).blob.text())
      .expect(409);
    const [row] = await views.report({
      from: todayUtc(),
      to: todayUtc(),
      granularity: 'day',
      route: '/article/:slug',
    });
    expect([row?.timedViews, row?.avgTimeOnPageMs]).toEqual([1, 8_000]);
  });

  it('does not count time before a background tab is first shown', async () => {
    const page = browserPage(await servedScript(), { visible: false });
    page.advance(10_000);
    page.show();
    page.advance(2_000);
    page.hide();
    expect(await payload(page.sent[0] as Sent)).toMatchObject({ s: 1, ms: 2_000 });
  });

  it('sends nothing for a page that was never visible', async () => {
    const page = browserPage(await servedScript(), { visible: false });
    page.advance(10_000);
    page.pagehide();
    expect(page.sent).toEqual([]);
  });

  it('resumes after a back/forward-cache restore with the same token', async () => {
    const script = await servedScript();
    const page = browserPage(script);
    page.advance(1_000);
    page.pagehide();
    page.restoreFromCache();
    page.advance(4_000);
    page.hide();
    expect((await Promise.all(page.sent.map(payload))).map((p) => [p.s, p.ms])).toEqual([
      [1, 1_000],
      [2, 5_000],
    ]);
  });

  it('stays silent where sendBeacon does not exist, and listens to no unload event', async () => {
    const script = await servedScript();
    const old = browserPage(script, { beacon: false });
    old.advance(1_000);
    expect(() => old.hide()).not.toThrow();
    expect(old.listeners.size).toBe(0);
    const modern = browserPage(script);
    expect([...modern.listeners.keys()].sort()).toEqual(['pagehide', 'pageshow', 'visibilitychange']);
    expect(views.clientScript).not.toMatch(/unload|localStorage|cookie/);
    expect(script.startsWith(views.clientScript)).toBe(true);
  });
});
