// Measures the Redis memory of page-view keys with MEMORY USAGE (for the README): `npx tsx --conditions=@express-redis-kit/source test/page-views/measure-memory.ts redis://127.0.0.1:6379`.
import { Redis } from 'ioredis';
import { pageViews } from '../../src/index.js';

const url = process.argv[2] ?? 'redis://127.0.0.1:6379';
const redis = new Redis(url);
const day = new Date().toISOString().slice(0, 10);

async function usage(key: string): Promise<number> {
  return Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
}

async function run(prefix: string, routes: number, uniquesPerRoute: number, timed: boolean) {
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
  if (timed) {
    // a realistic spread: every route has views in three histogram buckets
    const time = `${prefix}{${prefix.slice(0, -1)}}:t:d:${day}`;
    const pipeline = redis.pipeline();
    for (let r = 0; r < routes; r++) {
      const route = `/section-${r}/items/:itemId`;
      for (const field of ['n', 'ms', 'b1', 'b3', 'b5']) pipeline.hincrby(time, `${route} ${field}`, 1234);
    }
    await pipeline.exec();
  }
  await views.close();
  const tag = `${prefix}{${prefix.slice(0, -1)}}:`;
  const dayHash = await usage(`${tag}d:${day}`);
  const hll = await usage(`${tag}u:d:${day}:/section-0/items/:itemId`);
  const time = timed ? await usage(`${tag}t:d:${day}`) : 0;
  return { dayHash, hll, time };
}

const rows: string[] = [];
for (const routes of [20, 50, 200]) {
  const { dayHash, time } = await run(`mem${routes}:`, routes, 1, true);
  rows.push(
    `| ${routes} routes | views hash ${dayHash} B (${Math.round(dayHash / routes)} B/route) | time hash ${time} B (${Math.round(time / routes)} B/route) |`,
  );
}
for (const uniques of [1, 10, 100, 1_000, 10_000]) {
  const { hll } = await run(`hll${uniques}:`, 1, uniques, false);
  rows.push(`| HLL of one route and day, ${uniques} visitors | ${hll} B |`);
}
const tokenKey = 'memtoken:{memtoken}:k:AbCdEfGhIjKl';
await redis.set(tokenKey, '3:123456', 'PX', 21_600_000);
rows.push(`| beacon token state | ${await usage(tokenKey)} B |`);
console.log(rows.join('\n'));

// clean up what was measured (SCAN, never KEYS)
for (const pattern of ['mem*', 'hll*', 'memtoken*']) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
await redis.quit();
