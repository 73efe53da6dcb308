// Parses durations given as milliseconds or as strings like '1.5s', '15m', '2h', '7d'.
import { ConfigError } from './errors.js';

/** A duration: a number of milliseconds, or a number with a unit (`ms`, `s`, `m`, `h`, `d`, `w`). */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`;
type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd' | 'w';

const UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PATTERN = /^(\d+(?:\.\d+)?|\.\d+) ?(ms|s|m|h|d|w)$/;

/**
 * Returns the duration in whole milliseconds (rounded). Throws a `ConfigError` with code
 * `ERR_DURATION_INVALID` for anything else: negative numbers, NaN, Infinity, unknown units, empty strings.
 *
 * @param value the duration to parse
 * @param option the option's name, used in the error message (e.g. `'rateLimit window'`)
 * @example parseDuration('1.5s') // 1500
 */
export function parseDuration(value: unknown, option = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
    throw invalid(option, value);
  }
  if (typeof value === 'string') {
    const match = PATTERN.exec(value.trim());
    if (match) {
      const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] as DurationUnit]);
      if (Number.isSafeInteger(ms)) return ms;
    }
  }
  throw invalid(option, value);
}

function invalid(option: string, value: unknown): ConfigError {
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  return new ConfigError(
    'ERR_DURATION_INVALID',
    `${option}: ${shown} is not a duration. Use milliseconds (e.g. 1500) or a number with a unit: ` +
      `'250ms', '1.5s', '15m', '2h', '7d', '1w'.`,
  );
}

/**
 * Writes milliseconds in the largest unit that divides them exactly, the way users write durations: 3600000
 * is `'1h'`, 90000 is `'90s'`, 1500 is `'1500ms'`.
 */
export function formatDuration(ms: number): string {
  for (const [unit, size] of FORMAT_UNITS) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const FORMAT_UNITS = [
  ['d', UNIT_MS.d],
  ['h', UNIT_MS.h],
  ['m', UNIT_MS.m],
  ['s', UNIT_MS.s],
] as const;
