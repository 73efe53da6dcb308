// The Redis memory of page-view keys by size (the table in docs/page-views.md), with MEMORY USAGE on a private
// redis-server: `npx tsx --conditions=@express-redis-kit/source bench/page-views-memory.ts`.
import { pageViews } from 'express-redis-kit';
import type { Redis } from 'ioredis';
import { startBenchRedis } from './lib/redis.js';

const day = new Date().toISOString().slice(0, 10);

async function usage(redis: Redis, key: string): Promise<number> {
  return Number(await redis.memory('USAGE', key, 'SAMPLES', 0));
}

async function measure(
  redis: Redis,
  prefix: string,
  routes: number,
  uniquesPerRoute: number,
  timed: boolean,
) {
  const views = pageViews({
    redis,
    prefix,
    flushInterval: '1h',
    secret: 'measure-memory-secret-0123456789abcdef',
  });
  for (let r = 0; r < routes; r++) {
    const route = `/section-${r}/items/:itemId`;
    for (let u = 0; u < uniquesPerRoute; u++)
      views.record({ route, visitor: `203.0.113.${u % 250} agent-${u}` });
  }
  await views.flush();
  const tag = `${prefix}{${prefix.slice(0, -1)}}:`;
  if (timed) {
    // a realistic spread: every route has views in three histogram buckets
    const pipeline = redis.pipeline();
    for (let r = 0; r < routes; r++) {
      const route = `/section-${r}/items/:itemId`;
      for (const field of ['n', 'ms', 'b1', 'b3', 'b5'])
        pipeline.hincrby(`${tag}t:d:${day}`, `${route} ${field}`, 1234);
    }
    await pipeline.exec();
  }
  await views.close();
  return {
    dayHash: await usage(redis, `${tag}d:${day}`),
    hll: await usage(redis, `${tag}u:d:${day}:/section-0/items/:itemId`),
    time: timed ? await usage(redis, `${tag}t:d:${day}`) : 0,
  };
}

const bench = await startBenchRedis();
const redis = bench.admin;
try {
  const rows: string[] = [];
  for (const routes of [20, 50, 200]) {
    const { dayHash, time } = await measure(redis, `mem${routes}:`, routes, 1, true);
    rows.push(
      `| ${routes} routes | views hash ${dayHash} B (${Math.round(dayHash / routes)} B/route) | time hash ${time} B (${Math.round(time / routes)} B/route) |`,
    );
  }
  for (const uniques of [1, 10, 100, 1_000, 10_000]) {
    const { hll } = await measure(redis, `hll${uniques}:`, 1, uniques, false);
    rows.push(`| HLL of one route and day, ${uniques} visitors | ${hll} B |`);
  }
  const tokenKey = 'memtoken:{memtoken}:k:AbCdEfGhIjKl';
  await redis.set(tokenKey, '3:123456', 'PX', 21_600_000);
  rows.push(`| beacon token state | ${await usage(redis, tokenKey)} B |`);
  console.log(rows.join('\n'));
} finally {
  await bench.stop();
}
