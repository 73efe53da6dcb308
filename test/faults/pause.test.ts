// Redis frozen with SIGSTOP for 5 s under load: every request completes within one command timeout plus a
// small margin, however many middlewares on its path use Redis; nothing hangs, nothing is rejected unhandled,
// all works after.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FullStack, fullStackApp } from '../helpers/full-stack.js';
import { DEADLINE_MARGIN_MS } from '../helpers/http.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { configOf, scriptSrc } from '../page-views/support.js';
import {
  type Answer,
  type Call,
  call,
  type Listening,
  listen,
  loadLoop,
  sessionCookie,
  sleep,
  watchUnhandledRejections,
} from './support.js';

const COMMAND_TIMEOUT_MS = 500;
const PAUSE_MS = 5_000;

let server: RedisServer;
let client: Redis;
const rejections = watchUnhandledRejections();

interface Target {
  name: 'fail-closed' | 'anonymous';
  stack: FullStack;
  served: Listening;
  cookie: string;
  token: string;
}
const targets: Target[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url, {
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
    enableAutoPipelining: true,
  });
  client.on('error', () => {});
  for (const name of ['fail-closed', 'anonymous'] as const) {
    const stack = fullStackApp({
      redis: client,
      prefix: `${name}:`,
      sessionPolicy: name,
      flushInterval: '200ms',
      // The load is one client address: a limit it rarely reaches (a 429 still counts as working).
      apiLimit: 5_000,
    });
    const served = await listen(stack.app as never);
    const created = await call(served.url, '/cart/2', { method: 'POST' });
    const home = await call(served.url, '/');
    const script = await call(served.url, scriptSrc(home.text));
    targets.push({ name, stack, served, cookie: sessionCookie(created), token: configOf(script.text).t });
  }
});

afterAll(async () => {
  rejections.dispose();
  server?.resume();
  for (const t of targets) {
    await t.served.close();
    await t.stack.close();
  }
  client?.disconnect();
  await server?.stop();
});

/**
 * Each kind of request, and how many Redis calls it makes one after the other: a new visitor's page needs
 * none; one middleware per request needs one; a request with a session cookie through the rate limiter needs
 * two (the session read, then the limiter). Once one call has timed out, the client's next calls fail at once,
 * so any request that needs Redis waits for one timeout at most.
 */
const KINDS = {
  home: { steps: 0, path: '/' },
  'home+cookie': { steps: 1, path: '/', cookie: true },
  product: { steps: 1, path: '/products/1' },
  api: { steps: 1, path: '/api/items' },
  'new-cart': { steps: 1, path: '/cart/4', method: 'POST' },
  'cart+cookie': { steps: 1, path: '/cart/3', method: 'POST', cookie: true },
  beacon: { steps: 1, path: '/_pv', method: 'POST' },
  'api+cookie': { steps: 2, path: '/api/items', cookie: true },
} as const satisfies Record<string, { steps: number; path: string; method?: string; cookie?: boolean }>;
type Kind = keyof typeof KINDS;
const KIND_NAMES = Object.keys(KINDS) as Kind[];

const tagOf = new WeakMap<Answer, { kind: Kind; target: Target }>();
let sequence = 0;

async function send(kind: Kind, target: Target): Promise<Answer> {
  const spec: { path: string; method?: string; cookie?: boolean } = KINDS[kind];
  const options: Call = {
    ...(spec.method ? { method: spec.method } : {}),
    ...(spec.cookie ? { cookie: target.cookie } : {}),
    ...(kind === 'beacon'
      ? { contentType: 'text/plain', body: JSON.stringify({ t: target.token, s: ++sequence, ms: 100 }) }
      : {}),
  };
  const answer = await call(target.served.url, spec.path, options);
  tagOf.set(answer, { kind, target });
  return answer;
}

describe('Redis paused (SIGSTOP) for 5 s under load', () => {
  it('answers every request within one command timeout plus a margin, however many Redis calls it makes', async () => {
    const load = loadLoop(10, (w, i) =>
      send(KIND_NAMES[(w * 3 + i) % KIND_NAMES.length] as Kind, targets[(w + i) % 2] as Target),
    );
    await sleep(1_000);
    server.pause();
    const pausedAt = Date.now();
    await sleep(PAUSE_MS);
    server.resume();
    const resumedAt = Date.now();
    await sleep(1_500);
    const answers = await load.stop();

    const late = answers
      .filter((a) => {
        const steps = KINDS[tagOf.get(a)?.kind as Kind].steps;
        return a.ms > Math.min(steps, 1) * COMMAND_TIMEOUT_MS + DEADLINE_MARGIN_MS;
      })
      .map((a) => `${tagOf.get(a)?.target.name} ${tagOf.get(a)?.kind} took ${Math.round(a.ms)} ms`);
    expect(late).toEqual([]);

    // Every kind of request was answered while Redis was frozen, with a policy answer, never a 500.
    const frozen = answers.filter((a) => a.at >= pausedAt && a.at + a.ms <= resumedAt);
    for (const kind of KIND_NAMES)
      expect(
        frozen.some((a) => tagOf.get(a)?.kind === kind),
        kind,
      ).toBe(true);
    expect(frozen.length).toBeGreaterThan(50);
    expect(answers.filter((a) => ![200, 204, 409, 429, 503].includes(a.status)).map((a) => a.status)).toEqual(
      [],
    );
    expect(answers.filter((a) => a.status === 503 && tagOf.get(a)?.target.name !== 'fail-closed')).toEqual(
      [],
    );
    const slowest = Math.max(...frozen.map((a) => a.ms));
    expect(slowest).toBeGreaterThan(COMMAND_TIMEOUT_MS * 0.9); // the requests did wait for Redis

    // After the resume: the rate limit counts again, the cache hits, the session is the one from before.
    const after = answers.filter((a) => a.at > resumedAt + 1_000);
    expect(after.length).toBeGreaterThan(20);
    for (const target of targets) {
      const api = await send('api', target);
      expect(api.headers.get('ratelimit')).not.toBeNull();
      const state = await call(target.served.url, '/state', { cookie: target.cookie });
      expect(state.status).toBe(200);
      expect(JSON.parse(state.text).cart['2']).toBe(1);
      await target.stack.views.flush();
      expect(target.stack.views.stats().droppedViews).toBe(0);
    }
    expect(rejections.seen).toEqual([]);
  });
});
