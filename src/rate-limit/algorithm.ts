// Picks the limiter's script and key suffix for its algorithm, so the request path is the same for all of them.

import { createGcra } from './gcra-script.js';
import type { ResolvedRateLimit, ResolvedRule } from './options.js';
import { createSlidingLog, type LimitScript } from './script.js';
import { createSlidingWindow } from './window-script.js';

/** The script that decides for a limiter, and the tail of its key (after the hash-tagged client key). */
export interface LimiterAlgorithm {
  readonly script: LimitScript;
  /**
   * `}:<longest window ms>` plus a mark of the algorithm (`:sw<precision>`, `:gcra`), so switching
   * algorithm or precision starts from fresh keys instead of misreading the old ones.
   */
  readonly keyTail: string;
}

/** Builds the script for the rules in script order (longest window first). */
export function createAlgorithm(config: ResolvedRateLimit): LimiterAlgorithm {
  const rules = config.scriptOrder.map((i) => config.rules[i] as ResolvedRule);
  const longest = (rules[0] as ResolvedRule).windowMs;
  switch (config.algorithm) {
    case 'sliding-window':
      return {
        script: createSlidingWindow(config.redis, rules, config.precision),
        keyTail: `}:${longest}:sw${config.precision}`,
      };
    case 'gcra':
      return { script: createGcra(config.redis, rules), keyTail: `}:${longest}:gcra` };
    default:
      return { script: createSlidingLog(config.redis, rules), keyTail: `}:${longest}` };
  }
}
