// ioredis 6 can return RESP3 shapes (`replyMapping: 'resp3'`: maps as objects, scores as numbers, pairs
// nested); every middleware and admin method answers the same on such a client as on the default one.
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { fullStackApp } from '../helpers/full-stack.js';
import { BROWSER_UA } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';

const redis = useTestRedis();
const stacks: ReturnType<typeof fullStackApp>[] = [];
afterAll(async () => {
  for (const stack of stacks) await stack.close();
});

/** Drives every middleware and admin method once and returns what a user would see. */
async function tour(mapping: 'legacy' | 'resp3') {
  // On ioredis 5 the option does not exist and is ignored: both runs are then RESP2.
  const client = redis.connect({ replyMapping: mapping } as never);
  const stack = fullStackApp({ redis: client, prefix: redis.prefix(`${mapping}:`), apiLimit: 2 });
  stacks.push(stack);
  const agent = request.agent(stack.app);

  await agent.post('/cart/3').expect(200);
  await agent.post('/cart/3').expect(200);
  const signedIn = await agent.post('/sign-in/ann').expect(200);
  const state = (await agent.get('/state').expect(200)).body;
  const devices = await stack.sessions.listForUser('ann', { current: signedIn.body.handle });

  for (let i = 0; i < 3; i++) await request(stack.app).get('/api/items');
  const limits = await stack.limiter.stats({ top: 5 });

  await request(stack.app).get('/products/1').set('user-agent', BROWSER_UA).expect(200);
  const hit = await request(stack.app).get('/products/1').set('user-agent', BROWSER_UA).expect(200);
  await stack.cache.invalidate(['product:1']);
  const afterInvalidate = await request(stack.app).get('/products/1').set('user-agent', BROWSER_UA);

  await request(stack.app).get('/').set('user-agent', BROWSER_UA).expect(200);
  await stack.views.flush();
  const today = new Date().toISOString().slice(0, 10);
  const top = await stack.views.top({ granularity: 'day' });
  const report = await stack.views.report({ from: today, to: today, granularity: 'day' });
  const totals = await stack.views.totals({ from: today, to: today, granularity: 'day' });

  return {
    state: { cart: state.cart, userId: state.userId },
    devices: devices.map((d) => ({ current: d.current, handle: typeof d.handle })),
    limits: { allowed: limits.allowed, blocked: limits.blocked, topBlocked: limits.topBlocked.length },
    topBlockedKey: typeof limits.topBlocked[0]?.key,
    topBlockedCount: limits.topBlocked[0]?.blocked,
    cache: [hit.headers['cache-status'], afterInvalidate.headers['cache-status']],
    renders: stack.renders(),
    top: top.map((row) => [row.route, row.views, row.uniques]),
    report: report.map((row) => [row.period, row.route, row.views, row.uniques, row.avgTimeOnPageMs]),
    totals,
    redisErrors: stack.logger.redisErrors(),
  };
}

describe('a client with RESP3 reply shapes', () => {
  it('gets the same answers from every middleware and admin method as a default client', async () => {
    const legacy = await tour('legacy');
    expect(legacy.state).toEqual({ cart: { '3': 2 }, userId: 'ann' });
    expect(legacy.limits).toEqual({ allowed: 2, blocked: 1, topBlocked: 1 });
    expect(legacy.topBlockedKey).toBe('string');
    expect(legacy.topBlockedCount).toBe(1);
    expect(legacy.renders).toBe(2);
    expect(legacy.redisErrors).toEqual([]);
    expect(await tour('resp3')).toEqual(legacy);
  });
});
