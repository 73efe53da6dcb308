// Picks the limiter's script and key suffix for its algorithm, so the request path is the same for all of them.
import { formatDuration } from '../core/index.js';
import type { RedisCaller } from '../redis/index.js';
import { createGcra } from './gcra-script.js';
import type { LimitScript } from './limit-script.js';
import type { ResolvedRateLimitConfig } from './options.js';
import { MAX_LOG_LIMIT, type ResolvedRule } from './rule-options.js';
import { createSlidingLog } from './sliding-log-script.js';
import { bucketMicros, createSlidingWindow } from './window-script.js';

/** The script that decides for a limiter, and the tail of its key (after the hash-tagged client key). */
export interface LimiterAlgorithm {
  readonly script: LimitScript;
  /**
   * `}:<longest window ms>` plus a mark of the algorithm (`:sw<precision>`, `:gcra`), so switching
   * algorithm or precision starts from fresh keys instead of misreading the old ones.
   */
  readonly keyTail: string;
}

/** Builds the script for the rules in script order (longest window first), its calls made through `caller`. */
export function createAlgorithm(config: ResolvedRateLimitConfig, caller: RedisCaller): LimiterAlgorithm {
  const rules = config.scriptOrder.map((i) => config.rules[i] as ResolvedRule);
  const longest = (rules[0] as ResolvedRule).windowMs;
  switch (config.algorithm) {
    case 'sliding-window':
      return {
        script: createSlidingWindow(config.redis, rules, config.precision, caller),
        keyTail: `}:${longest}:sw${config.precision}`,
      };
    case 'gcra':
      return { script: createGcra(config.redis, rules, caller), keyTail: `}:${longest}:gcra` };
    default:
      return { script: createSlidingLog(config.redis, rules, caller), keyTail: `}:${longest}` };
  }
}

/**
 * Says once, at creation, that a limit too large for the sliding log made the limiter use the bucketed
 * window, and what that costs in exactness, so nobody is surprised by the early refusals it may make.
 */
export function announceInferredAlgorithm(config: ResolvedRateLimitConfig): void {
  if (!config.algorithmInferred) return;
  const longest = config.rules[config.scriptOrder[0] as number] as ResolvedRule;
  const bucketMs = Math.max(1, Math.round(bucketMicros(longest.windowMs, config.precision) / 1000));
  config.logger.warn(
    `rateLimit '${config.name}': a limit above ${MAX_LOG_LIMIT} is too large for the exact sliding log, so ` +
      `this limiter uses algorithm 'sliding-window': ${config.precision} buckets per window (${formatDuration(
        bucketMs,
      )} for ${formatDuration(longest.windowMs)}). It never admits more than the limit in any window and ` +
      "may refuse up to one bucket's worth early. Set `algorithm` explicitly to silence this message.",
  );
}
