// The rules and the algorithm of a limiter, checked at app start: each rule's limit, window, burst and name, what
// the algorithm allows, and a static cost against every rule.
import type { Request } from 'express';
import {
  checkOptions,
  durationOption,
  formatDuration,
  integerOption,
  nameOption,
  oneOfOption,
  optionError,
  optionNames,
} from '../core/index.js';
import type { RateLimitAlgorithm, RateLimitOptions, RateLimitRule } from './options.js';

/**
 * The largest limit a rule of the sliding log may have. A client at its limit holds `limit` entries in Redis,
 * about 20 bytes each up to 128 entries and about 130 bytes each beyond (measured with MEMORY USAGE, see
 * docs/rate-limiting.md), so this caps one client of one limiter at about 650 KB.
 */
export const MAX_LOG_LIMIT = 5_000;

/** The largest limit (and burst) of the sliding window and GCRA: counts stay exact integers in Lua. */
export const MAX_LIMIT = 1_000_000_000;

/** The most buckets per window of the sliding window. */
export const MAX_PRECISION = 1_000;

/** At most this many rules per limiter, the main one included. */
export const MAX_RULES = 8;

/** The longest window: keeps microsecond arithmetic in Lua exact. */
const MAX_WINDOW_MS = 366 * 86_400_000;

const WHERE = 'rateLimit';
const RULE_KNOWN = optionNames<RateLimitRule>({ limit: true, window: true, burst: true, name: true });
const ALGORITHMS: readonly RateLimitAlgorithm[] = ['sliding-log', 'sliding-window', 'gcra'];

/** A validated rule. */
export interface ResolvedRule {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  /** GCRA's burst (the limit for the other algorithms): the most units one request can ever cost. */
  readonly burst: number;
}

/** A cost as resolved: a static number of units, or the function that says it per request. */
export type RateLimitCost = number | ((req: Request) => number | Promise<number>);

/** The explicit `algorithm`, or, without one, the bucketed window when a limit is too large for the log. */
export function chooseAlgorithm(options: Partial<RateLimitOptions>): {
  algorithm: RateLimitAlgorithm;
  algorithmInferred: boolean;
} {
  if (options.algorithm !== undefined) {
    return {
      algorithm: oneOfOption(options.algorithm, 'algorithm', WHERE, ALGORITHMS),
      algorithmInferred: false,
    };
  }
  const extra: unknown = options.rules;
  const limits = [options.limit, ...(Array.isArray(extra) ? extra.map(limitOf) : [])];
  const tooLarge = limits.some((l) => typeof l === 'number' && l > MAX_LOG_LIMIT);
  return { algorithm: tooLarge ? 'sliding-window' : 'sliding-log', algorithmInferred: tooLarge };
}

function limitOf(rule: unknown): unknown {
  return typeof rule === 'object' && rule !== null ? (rule as { limit?: unknown }).limit : undefined;
}

/** The bucketed window's `precision` (`fallback` when not given); an error with any other algorithm. */
export function resolvePrecision(
  precision: unknown,
  algorithm: RateLimitAlgorithm,
  fallback: number,
): number {
  if (precision !== undefined && algorithm !== 'sliding-window') {
    throw onlyFor('sliding-window', 'precision', algorithm, precision);
  }
  return integerOption(precision ?? fallback, 'precision', WHERE, 1, MAX_PRECISION);
}

/**
 * The main rule (named after the limiter), then each of `rules`, checked on their own, against each other and
 * against the bucketed window's `precision`.
 */
export function resolveRules(
  options: Partial<RateLimitOptions>,
  name: string,
  algorithm: RateLimitAlgorithm,
  precision: number,
): ResolvedRule[] {
  const main = { limit: options.limit, window: options.window, burst: options.burst, name };
  const rules = [resolveRule(main, '', algorithm)];
  const extra: unknown = options.rules ?? [];
  if (!Array.isArray(extra)) {
    throw optionError('ERR_RATE_LIMIT_RULES', WHERE, 'rules', 'an array of { limit, window }', extra);
  }
  if (extra.length + 1 > MAX_RULES) {
    const requirement = `at most ${MAX_RULES - 1} extra rules`;
    throw optionError('ERR_RATE_LIMIT_RULES', WHERE, 'rules', requirement, extra, `${extra.length}`);
  }
  extra.forEach((rule: unknown, i) => {
    checkOptions<RateLimitRule>(rule, RULE_KNOWN, `${WHERE} rules[${i}]`);
    const resolved = resolveRule(rule, `rules[${i}].`, algorithm, name);
    const clash = rules.find((r) => r.windowMs === resolved.windowMs || r.name === resolved.name);
    if (clash) {
      const field = clash.windowMs === resolved.windowMs ? 'window' : 'name';
      throw optionError(
        'ERR_RATE_LIMIT_RULES',
        WHERE,
        `rules[${i}].${field}`,
        `different from rule '${clash.name}'s (with one window, the smaller limit would win anyway)`,
        field === 'window' ? formatDuration(resolved.windowMs) : resolved.name,
      );
    }
    rules.push(resolved);
  });
  const short = algorithm === 'sliding-window' ? rules.find((r) => r.windowMs < precision) : undefined;
  if (short) {
    const requirement = `at most ${short.windowMs}, the milliseconds in the window of rule '${short.name}', so no bucket is shorter than 1 ms`;
    throw optionError('ERR_OPTION_RANGE', WHERE, 'precision', requirement, precision);
  }
  return rules;
}

function resolveRule(
  rule: Partial<RateLimitRule>,
  label: string,
  algorithm: RateLimitAlgorithm,
  limiterName?: string,
): ResolvedRule {
  const limit = resolveLimit(rule.limit, `${label}limit`, algorithm);
  if (rule.burst !== undefined && algorithm !== 'gcra') {
    throw onlyFor('gcra', `${label}burst`, algorithm, rule.burst);
  }
  const burst =
    rule.burst === undefined ? limit : integerOption(rule.burst, `${label}burst`, WHERE, 1, MAX_LIMIT);
  if (rule.window === undefined) {
    throw optionError('ERR_RATE_LIMIT_WINDOW', WHERE, `${label}window`, "given (e.g. '1m')", undefined);
  }
  const windowMs = durationOption(
    rule.window,
    `${label}window`,
    WHERE,
    { min: 1, max: MAX_WINDOW_MS },
    'ERR_RATE_LIMIT_WINDOW',
  );
  const name =
    limiterName === undefined
      ? (rule.name as string)
      : nameOption(
          rule.name ?? `${limiterName}-${formatDuration(windowMs)}`,
          `${label}name`,
          WHERE,
          'ERR_RATE_LIMIT_NAME',
        );
  return { name, limit, windowMs, burst };
}

function resolveLimit(limit: unknown, name: string, algorithm: RateLimitAlgorithm): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw optionError('ERR_RATE_LIMIT_LIMIT', WHERE, name, 'an integer of at least 1', limit);
  }
  if (algorithm !== 'sliding-log' && limit > MAX_LIMIT) {
    throw optionError(
      'ERR_RATE_LIMIT_LIMIT',
      WHERE,
      name,
      `at most ${MAX_LIMIT.toLocaleString('en')}`,
      limit,
    );
  }
  if (algorithm === 'sliding-log' && limit > MAX_LOG_LIMIT) {
    // The log keeps one entry per admitted unit, about 130 bytes each beyond 128.
    const kb = Math.round((limit * 130) / 1024);
    throw optionError(
      'ERR_RATE_LIMIT_TOO_LARGE',
      WHERE,
      name,
      `at most ${MAX_LOG_LIMIT} with the sliding log, which would hold ${kb} KB for one client at this ` +
        "limit; use algorithm 'sliding-window' (a few counters per client, never over the limit in any " +
        "window) or 'gcra' (one timestamp per client, for a steady rate with bursts)",
      limit,
    );
  }
  return limit;
}

/** A static cost is checked against every rule now: one above a rule's burst could never be admitted. */
export function resolveCost(
  cost: unknown,
  rules: readonly ResolvedRule[],
  algorithm: RateLimitAlgorithm,
): RateLimitCost {
  if (typeof cost === 'function') return cost as RateLimitCost;
  if (typeof cost !== 'number')
    throw optionError('ERR_OPTION_VALUE', WHERE, 'cost', 'an integer or a function', cost);
  integerOption(cost, 'cost', WHERE, 0, algorithm === 'sliding-log' ? MAX_LOG_LIMIT : MAX_LIMIT);
  const tight = rules.find((r) => cost > r.burst);
  if (tight) {
    const what = algorithm === 'gcra' ? 'burst' : 'limit';
    const requirement = `at most the ${what} ${tight.burst} of rule '${tight.name}', or no request could ever be admitted`;
    throw optionError('ERR_RATE_LIMIT_COST', WHERE, 'cost', requirement, cost);
  }
  return cost;
}

/** The error for an option that belongs to another algorithm. */
function onlyFor(owner: RateLimitAlgorithm, name: string, algorithm: RateLimitAlgorithm, value: unknown) {
  const requirement = `left out: it applies to algorithm '${owner}' only, and this limiter uses '${algorithm}'`;
  return optionError('ERR_RATE_LIMIT_ALGORITHM', WHERE, name, requirement, value);
}
