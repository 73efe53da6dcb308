// Where the shop finds Redis and keeps its private data, from the environment (shared by `start` and `seed`).
import { fileURLToPath } from 'node:url';

export const shopRedisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const shopDataDir = (): string =>
  process.env.SHOP_DATA_DIR ?? fileURLToPath(new URL('./.data', import.meta.url));

export const shopPort = (): number => Number(process.env.PORT ?? 3000);

/**
 * Put in front of every key the shop and its middlewares write, so the shop keeps to its own namespace in a
 * Redis that holds other data too (`kettle:shop:...`, `kettle:sess:...`, ...). `npm run seed` empties it.
 */
export const shopKeyPrefix = (): string => process.env.SHOP_KEY_PREFIX ?? 'kettle:';
