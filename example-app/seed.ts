// `npm run seed`: resets the shop's data in Redis (catalog, users, carts, orders) to the demo catalog.
import { connectRedis, RedisUnavailableError } from './redis.js';
import { shopDataDir, shopKeyPrefix, shopRedisUrl } from './settings.js';
import { createShop } from './shop/index.js';

const log = (line: string) => console.log(`[seed] ${line}`);

try {
  const redis = await connectRedis(shopRedisUrl(), shopDataDir(), log);
  try {
    await createShop(redis.client, `${shopKeyPrefix()}shop:`).reset();
    log(`the shop's data in ${redis.url} is back to the demo catalog and users`);
  } finally {
    await redis.close();
  }
} catch (error) {
  console.error(error instanceof RedisUnavailableError ? `[seed] ${error.message}` : error);
  process.exitCode = 1;
}
