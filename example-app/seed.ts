// `npm run seed`: empties the shop's namespace in Redis (SHOP_KEY_PREFIX, default `kettle:`) and seeds the demo.
import { connectRedis, RedisUnavailableError } from './redis.js';
import { shopDataDir, shopKeyPrefix, shopRedisUrl } from './settings.js';
import { createShop, deleteMatching, globEscape } from './shop/index.js';

const log = (line: string) => console.log(`[seed] ${line}`);

try {
  const redis = await connectRedis(shopRedisUrl(), shopDataDir(), log);
  try {
    const prefix = shopKeyPrefix();
    const shop = createShop(redis.client, `${prefix}shop:`);
    if (prefix === '') {
      // Without a namespace every key in the database would match: reset only the shop's own data.
      await shop.reset();
      log(`SHOP_KEY_PREFIX is empty: reset only the shop's data (shop:{shop}:*) in ${redis.url}`);
    } else {
      // Sessions, rate limits, cached pages and page views of the shop go too; other keys stay.
      const deleted = await deleteMatching(redis.client, `${globEscape(prefix)}*`);
      await shop.reset();
      log(`deleted ${deleted} key(s) under ${prefix}* in ${redis.url} and seeded the demo catalog and users`);
    }
  } finally {
    await redis.close();
  }
} catch (error) {
  console.error(error instanceof RedisUnavailableError ? `[seed] ${error.message}` : error);
  process.exitCode = 1;
}
