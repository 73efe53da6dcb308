// The limiter's admin methods: peek, consume, reset, stats and close, outside any request.
import { ConfigError, optionError } from '../core/index.js';
import { keyPart } from '../redis/index.js';
import type { Limiter } from './limiter.js';
import type { RateLimitMiddleware } from './types.js';

/** A stored key as `stats()` reports it (`#` + base64url SHA-256): accepted as is by `peek` and `reset`. */
const STORED_HASH = /^#[A-Za-z0-9_-]{43}$/;

/** The admin methods of a limiter's middleware. */
export type AdminMethods = Pick<RateLimitMiddleware, 'peek' | 'consume' | 'reset' | 'stats' | 'close'>;

export function adminMethods(limiter: Limiter): AdminMethods {
  const { source } = limiter;
  const storedKey = (key: string): string => {
    if (typeof key !== 'string') throw optionError('ERR_OPTION_VALUE', source, 'key', 'a string', key);
    return STORED_HASH.test(key) ? key : keyPart(key);
  };
  const validCost = (units: number): number => {
    if (!Number.isInteger(units) || units < 0) {
      throw optionError('ERR_RATE_LIMIT_COST', source, 'cost', 'an integer from 0', units);
    }
    return units;
  };
  return {
    peek: async (key, units = 1) => limiter.check(storedKey(key), validCost(units), false),
    consume: async (key, units = 1) => {
      const info = await limiter.check(storedKey(key), validCost(units), true);
      limiter.count(info);
      return info;
    },
    reset: async (key) => limiter.reset(storedKey(key)),
    stats: async ({ top = 10 } = {}) => {
      const stats = limiter.readStats(top);
      if (stats === undefined) {
        throw new ConfigError('ERR_RATE_LIMIT_STATS_DISABLED', `${source}: created with \`stats: false\`.`);
      }
      return stats;
    },
    close: () => limiter.close(),
  };
}
