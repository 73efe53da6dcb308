// Redis SIGKILLed under load and restarted: no crash, no unhandled rejection, each middleware follows its
// documented policy while Redis is down, everything works again within 2 s, and no page view is lost.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FullStack, fullStackApp } from '../helpers/full-stack.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { configOf, type FaultyProxy, faultyProxy, scriptSrc, todayUtc } from '../page-views/support.js';
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
/** The promise: back to normal within 2 s of Redis answering again. */
const RECOVERY_BOUND_MS = 2_000;

let server: RedisServer;
/** Between the client and Redis: can lose Redis's replies, to land a kill between a flush and its reply. */
let proxy: FaultyProxy;
let client: Redis;
/** Straight to Redis, for the test's own reads. */
let direct: Redis;
const stacks: {
  name: 'fail-closed' | 'anonymous';
  stack: FullStack;
  served: Listening;
  cookie: string;
  token: string;
}[] = [];
const rejections = watchUnhandledRejections();

beforeAll(async () => {
  // Every write is on disk before Redis answers, so what was acknowledged survives the SIGKILL.
  server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  proxy = await faultyProxy(server.port);
  direct = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  direct.on('error', () => {});
  // The client settings the README recommends: a command timeout, quick reconnects, no endless retries.
  client = new Redis(proxy.port, '127.0.0.1', {
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
    const target = { name, stack, served, cookie: '', token: '' };
    const created = await request(target, 'other', '/cart/2', { method: 'POST' });
    expect(created.status).toBe(200);
    const home = await request(target, 'other', '/');
    const script = await request(target, 'other', scriptSrc(home.text));
    stacks.push({ ...target, cookie: sessionCookie(created), token: configOf(script.text).t });
  }
});

afterAll(async () => {
  rejections.dispose();
  for (const s of stacks) {
    await s.served.close();
    await s.stack.close();
  }
  client?.disconnect();
  direct?.disconnect();
  await proxy?.close();
  await server?.stop();
});

/** The request mix one load worker sends: pages, a cached page, the API, a session write and beacons. */
const MIX = ['home', 'home+cookie', 'product', 'api', 'cart+cookie', 'beacon'] as const;
type Kind = (typeof MIX)[number] | 'other';
type Target = (typeof stacks)[number];
const tagOf = new WeakMap<Answer, { kind: Kind; app: Target['name'] }>();
/** Every answer of the run, load and probes alike, so page views can be counted exactly. */
const everyAnswer: Answer[] = [];
let sequence = 0;

async function request(target: Target, kind: Kind, path: string, options: Call = {}): Promise<Answer> {
  const answer = await call(target.served.url, path, options);
  tagOf.set(answer, { kind, app: target.name });
  everyAnswer.push(answer);
  return answer;
}

function send(kind: Exclude<Kind, 'other'>, target: Target): Promise<Answer> {
  switch (kind) {
    case 'home':
      return request(target, kind, '/');
    case 'home+cookie':
      return request(target, kind, '/', { cookie: target.cookie });
    case 'product':
      return request(target, kind, '/products/1');
    case 'api':
      return request(target, kind, '/api/items');
    case 'cart+cookie':
      return request(target, kind, '/cart/3', { method: 'POST', cookie: target.cookie });
    case 'beacon':
      return request(target, kind, '/_pv', {
        method: 'POST',
        contentType: 'text/plain',
        body: JSON.stringify({ t: target.token, s: ++sequence, ms: 1_000 }),
      });
  }
}

const describeAnswer = (a: Answer) =>
  `${tagOf.get(a)?.app} ${a.method} ${a.path} ${a.status} ${a.text.slice(0, 80)}`;

/** Whether an answer shows the middleware working normally against Redis. */
function normal(answer: Answer): boolean {
  const cacheStatus = answer.headers.get('cache-status') ?? '';
  switch (tagOf.get(answer)?.kind) {
    case 'home':
      return answer.status === 200;
    case 'home+cookie':
      // The session from before the outage, with its cart (Redis kept it: AOF).
      return answer.status === 200 && !answer.text.includes('cart: 0');
    case 'cart+cookie':
      return answer.status === 200 && answer.text.includes('"2":1');
    case 'product':
      return answer.status === 200 && cacheStatus !== '' && !cacheStatus.includes('redis-error');
    case 'api':
      return (answer.status === 200 || answer.status === 429) && answer.headers.get('ratelimit') !== null;
    case 'beacon':
      return answer.status === 204 || answer.status === 409;
    default:
      return true;
  }
}

/** Whether an answer follows the documented policy of its middleware while Redis is down. */
function policy(answer: Answer): boolean {
  const { kind, app } = tagOf.get(answer) ?? {};
  switch (kind) {
    case 'home':
      return answer.status === 200; // a new visitor's request never needs Redis
    case 'home+cookie':
    case 'cart+cookie':
      // Sessions: fail-closed answers 503 (ERR_SESSION_STORE); anonymous goes on with an empty session that
      // is not saved, and leaves the browser's cookie alone.
      if (app === 'fail-closed') return answer.status === 503 && answer.text.includes('ERR_SESSION_STORE');
      return (
        answer.status === 200 &&
        answer.headers.getSetCookie().length === 0 &&
        (kind === 'home+cookie' ? answer.text.includes('cart: 0') : answer.text.includes('{"cart":{"3":1}}'))
      );
    case 'product':
      // The cache misses: the handler answers.
      return (
        answer.status === 200 && /fwd=miss; detail=redis-error/.test(answer.headers.get('cache-status') ?? '')
      );
    case 'api':
      // The rate limit lets the request through, without headers.
      return answer.status === 200 && answer.headers.get('ratelimit') === null;
    case 'beacon':
      return answer.status === 204; // fail-open: the browser ignores the answer anyway
    default:
      return true;
  }
}

/** One probe of a stack: true when sessions, cache, rate limit, page-view flushes and beacons all work. */
async function healthy(target: Target): Promise<boolean> {
  const answers = await Promise.all(
    (['home+cookie', 'product', 'api'] as const).map((kind) => send(kind, target)),
  );
  const flushed = await target.stack.views.flush().then(
    () => true,
    () => false,
  );
  const home = await request(target, 'other', '/');
  const script = await request(target, 'other', scriptSrc(home.text));
  if (script.status !== 200) return false;
  const token = configOf(script.text).t;
  const beacon = () =>
    request(target, 'other', '/_pv', {
      method: 'POST',
      contentType: 'text/plain',
      body: JSON.stringify({ t: token, s: 1, ms: 500 }),
    });
  // A replay refused with 409 proves the first beacon was stored, not only answered fail-open.
  const stored = (await beacon()).status === 204 && (await beacon()).status === 409;
  return answers.every(normal) && flushed && stored;
}

describe('Redis killed under load, then restarted', () => {
  it('keeps serving by each policy, recovers within 2 s, and counts every page view once', async () => {
    const step = (w: number, i: number) => {
      const target = stacks[(w + i) % 2] as Target;
      return send(MIX[(w * 7 + i) % MIX.length] as Exclude<Kind, 'other'>, target);
    };
    const before = loadLoop(10, step);
    await sleep(1_000);
    await before.stop();
    for (const { stack } of stacks) await stack.views.flush();

    // The kill lands between a flush and its reply: Redis applies a chunk of these three views (the timer's
    // flush may take some of them first) and the reply is lost, so all three stay buffered and are sent again
    // after the restart, where the applied chunk's marker must stop it.
    const homeViews = async (target: Target) =>
      Number((await direct.hget(`${target.name}:pv:{${target.name}:pv}:d:${todayUtc()}`, '/')) ?? 0);
    const applied = await Promise.all(stacks.map(homeViews));
    proxy.dropReplies = true;
    for (const target of stacks) {
      for (let i = 0; i < 3; i++) expect((await request(target, 'home', '/')).status).toBe(200);
      await expect(target.stack.views.flush()).rejects.toThrow();
    }
    for (const [i, target] of stacks.entries()) {
      expect(await homeViews(target)).toBeGreaterThan(applied[i] as number);
      expect(target.stack.views.stats().bufferedViews).toBe(3);
    }
    await server.kill();
    proxy.dropReplies = false;
    const killedAt = Date.now();
    const load = loadLoop(10, step);
    await sleep(2_500);
    // Page views are buffered in memory meanwhile.
    for (const { stack } of stacks) expect(stack.views.stats().bufferedViews).toBeGreaterThan(0);
    const restartBegan = Date.now();
    await server.restart();
    const restartedAt = Date.now();

    let recoveredAt = 0;
    while (recoveredAt === 0 && Date.now() - restartedAt < 10_000) {
      const checks = await Promise.all(stacks.map(healthy));
      if (checks.every(Boolean)) recoveredAt = Date.now();
      else await sleep(50);
    }
    await sleep(1_500);
    const answers = await load.stop();

    expect(recoveredAt, 'never recovered').toBeGreaterThan(0);
    expect(recoveredAt - restartedAt).toBeLessThan(RECOVERY_BOUND_MS);
    expect(rejections.seen).toEqual([]);

    // While Redis was dead, every answer followed its middleware's policy.
    const down = answers.filter((a) => a.at > killedAt + 50 && a.at + a.ms < restartBegan);
    expect(down.length).toBeGreaterThan(30);
    expect(down.filter((a) => !policy(a)).map(describeAnswer)).toEqual([]);
    for (const kind of MIX) expect(down.some((a) => tagOf.get(a)?.kind === kind)).toBe(true);

    // Only the documented statuses at any time: no 500, and 503 only from fail-closed sessions.
    expect(
      everyAnswer.filter((a) => ![200, 204, 409, 429, 503].includes(a.status)).map(describeAnswer),
    ).toEqual([]);
    expect(everyAnswer.filter((a) => a.status === 503 && tagOf.get(a)?.app !== 'fail-closed')).toEqual([]);

    // Everything after the recovery (and the cache's one-second pause after its last failed lookup) is normal.
    const after = answers.filter((a) => a.at > recoveredAt + 1_000);
    expect(after.length).toBeGreaterThan(20);
    expect(after.filter((a) => !normal(a)).map(describeAnswer)).toEqual([]);

    // The outage was logged, at most once per 10 s per source, not once per request.
    for (const { stack } of stacks) {
      expect(stack.logger.redisErrors().length).toBeGreaterThan(0);
      expect(stack.logger.redisErrors().length).toBeLessThan(12);
    }

    // Exactly-once page views: every HTML page answered 200 was counted once, across the kill and restart.
    const today = todayUtc();
    for (const target of stacks) {
      await target.stack.views.flush();
      expect(target.stack.views.stats()).toMatchObject({ bufferedViews: 0, droppedViews: 0 });
      const rows = await target.stack.views.report({ from: today, to: today, granularity: 'day' });
      const views = Object.fromEntries(rows.map((r) => [r.route, r.views]));
      const pages = (path: string) =>
        everyAnswer.filter(
          (a) =>
            tagOf.get(a)?.app === target.name && a.method === 'GET' && a.status === 200 && a.path === path,
        ).length;
      expect(views['/products/:id']).toBe(pages('/products/1'));
      expect(views['/']).toBe(pages('/'));
    }
  });
});
