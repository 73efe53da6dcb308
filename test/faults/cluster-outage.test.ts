// Every node of a real 3-master Cluster killed: with only the client's commandTimeout set, every request of all four middlewares is answered on time, per its policy, and all works again once the nodes are back.
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import { type FullStack, fullStackApp } from '../helpers/full-stack.js';
import { configOf, scriptSrc } from '../page-views/support.js';
import {
  type Answer,
  type Call,
  call,
  type Listening,
  listen,
  sessionCookie,
  watchUnhandledRejections,
} from './support.js';

/** The only timeout anywhere: the client's own, as the ioredis docs suggest setting it. */
const COMMAND_TIMEOUT_MS = 500;
const MARGIN_MS = 100;

let cluster: RedisCluster;
let client: Cluster;
let stack: FullStack;
let served: Listening;
let cookie: string;
let token: string;
let sequence = 0;
const rejections = watchUnhandledRejections();

beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
  client = cluster.client({
    redisOptions: { commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 },
    clusterRetryStrategy: () => 100,
  });
  stack = fullStackApp({ redis: client, prefix: 'outage:', flushInterval: '200ms', apiLimit: 5_000 });
  served = await listen(stack.app as never);
  const created = await call(served.url, '/cart/2', { method: 'POST' });
  expect(created.status).toBe(200);
  cookie = sessionCookie(created);
  const home = await call(served.url, '/');
  token = configOf((await call(served.url, scriptSrc(home.text))).text).t;
}, 60_000);

afterAll(async () => {
  rejections.dispose();
  await served?.close();
  await stack?.close();
  await cluster?.stop();
});

/** Each kind of request and the statuses its middleware's failure policy allows while Redis is gone. */
const KINDS = {
  // No Redis call: a new visitor's page (its page view is buffered).
  home: { path: '/', outage: [200] },
  // Sessions fail closed by default: 503.
  'home+cookie': { path: '/', cookie: true, outage: [503] },
  'cart+cookie': { path: '/cart/3', method: 'POST', cookie: true, outage: [503] },
  // The cache fails open: the handler answers.
  product: { path: '/products/1', outage: [200] },
  // The rate limiter fails open by default.
  api: { path: '/api/items', outage: [200] },
  // Beacons are buffered; the page-view flush retries later.
  beacon: { path: '/_pv', method: 'POST', outage: [204] },
} as const satisfies Record<
  string,
  { path: string; method?: string; cookie?: boolean; outage: readonly number[] }
>;
type Kind = keyof typeof KINDS;

function send(kind: Kind): Promise<Answer> {
  const spec: { path: string; method?: string; cookie?: boolean } = KINDS[kind];
  const options: Call = {
    ...(spec.method ? { method: spec.method } : {}),
    ...(spec.cookie ? { cookie } : {}),
    ...(kind === 'beacon'
      ? { contentType: 'text/plain', body: JSON.stringify({ t: token, s: ++sequence, ms: 100 }) }
      : {}),
  };
  return call(served.url, spec.path, options);
}

describe('every node of a 3-master Cluster killed', () => {
  it('answers every request within the timeout plus 100 ms per each policy, and recovers when the nodes return', async () => {
    for (const kind of Object.keys(KINDS) as Kind[])
      expect((await send(kind)).status, kind).toBeLessThan(300);
    await Promise.all(cluster.servers.map((s) => s.kill()));

    const late: string[] = [];
    const wrong: string[] = [];
    const started = Date.now();
    while (Date.now() - started < 4_000) {
      for (const kind of Object.keys(KINDS) as Kind[]) {
        const answer = await send(kind);
        if (answer.ms > COMMAND_TIMEOUT_MS + MARGIN_MS) late.push(`${kind} took ${Math.round(answer.ms)} ms`);
        if (!(KINDS[kind].outage as readonly number[]).includes(answer.status))
          wrong.push(`${kind} answered ${answer.status}`);
      }
    }
    expect(late).toEqual([]);
    expect(wrong).toEqual([]);

    await Promise.all(cluster.servers.map((s) => s.restart()));
    // Back to normal: a new session is stored and read back, the limiter counts, the cache stores and hits.
    await expect
      .poll(
        async () => {
          const created = await call(served.url, '/cart/5', { method: 'POST' });
          if (created.status !== 200) return created.status;
          const state = await call(served.url, '/state', { cookie: sessionCookie(created) });
          return state.status === 200 && JSON.parse(state.text).cart['5'] === 1 ? 'back' : state.status;
        },
        { timeout: 20_000, interval: 250 },
      )
      .toBe('back');
    expect((await send('api')).headers.get('ratelimit')).not.toBeNull();
    await expect
      .poll(async () => (await send('product')).headers.get('cache-status') ?? '', { timeout: 5_000 })
      .toMatch(/hit/);
    await stack.views.flush();
    expect(rejections.seen).toEqual([]);
  }, 60_000);
});
