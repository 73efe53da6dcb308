// The options toolkit every middleware's options.ts is written with: each check throws a coded ConfigError at
// app start, and every message follows one template: "<where>: `<name>` must be <requirement> (got <value>)."
import { formatDuration, parseDuration } from './duration.js';
import { ConfigError, type ConfigErrorCode } from './errors.js';
import type { Logger } from './logger.js';

/**
 * The names of every option of `T`, complete by construction: the object must name each key of `T` (a missing
 * or an extra key is a type error), so adding an option to the type cannot leave it out of the known list.
 * @example const KNOWN = optionNames<MyOptions>({ redis: true, ttl: true });
 */
export function optionNames<T extends object>(
  names: { readonly [K in keyof Required<T>]: true },
): readonly (keyof T & string)[] {
  return Object.freeze(Object.keys(names)) as readonly (keyof T & string)[];
}

/**
 * The ConfigError of the one message template, for checks that are particular to a middleware. `shown` replaces
 * the value in the message where the value must not be echoed (a secret).
 */
export function optionError(
  code: ConfigErrorCode,
  where: string,
  name: string,
  requirement: string,
  value: unknown,
  shown = showValue(value),
): ConfigError {
  return new ConfigError(code, `${where}: \`${name}\` must be ${requirement} (got ${shown}).`);
}

/** A given value as a message shows it: strings quoted, functions and objects by kind, the rest as written. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 64 ? `${value.slice(0, 61)}...` : value}'`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/**
 * Checks that `options` is a plain options object with no unknown keys. Catches `app.use(factory)` without
 * the call (Express then passes a request as the options) and misspelt option names, with a suggestion.
 */
export function checkOptions<T extends object>(
  options: unknown,
  known: readonly (keyof T & string)[],
  where: string,
): asserts options is Partial<T> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError(
      'ERR_OPTIONS_INVALID',
      `${where}: expected an options object, got ${typeof options}.`,
    );
  }
  const ctor = (options as { constructor?: { name?: string } }).constructor?.name;
  if (ctor === 'IncomingMessage') {
    throw new ConfigError(
      'ERR_FACTORY_NOT_CALLED',
      `${where} was used as a middleware directly. Call it first: app.use(${where}({ ... })).`,
    );
  }
  for (const key of Object.keys(options)) {
    if ((known as readonly string[]).includes(key)) continue;
    const hint = closest(key, known);
    throw new ConfigError(
      'ERR_OPTION_UNKNOWN',
      `${where}: unknown option '${key}'.${hint ? ` Did you mean '${hint}'?` : ''}`,
    );
  }
}

/** Requires an integer in [min, max]. */
export function integerOption(value: unknown, name: string, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw optionError('ERR_OPTION_RANGE', where, name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** Requires one of the listed literal values. */
export function oneOfOption<T extends string | boolean>(
  value: unknown,
  name: string,
  where: string,
  allowed: readonly T[],
): T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    const list = allowed.map(showValue).join(', ');
    throw optionError('ERR_OPTION_VALUE', where, name, `one of ${list}`, value);
  }
  return value as T;
}

/** Requires a function, or undefined when the option is optional. */
export function functionOption<F extends (...args: never[]) => unknown>(
  value: unknown,
  name: string,
  where: string,
): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw optionError('ERR_OPTION_VALUE', where, name, 'a function', value);
  return value as F;
}

/** The range a duration option accepts, in milliseconds; `max` defaults to no upper bound. */
export interface DurationRange {
  readonly min: number;
  readonly max?: number;
}

/**
 * A duration option in milliseconds (see {@link parseDuration} for the forms accepted). A value that is not a
 * duration throws `ERR_DURATION_INVALID`; one outside `range` throws `code`, showing the range as durations.
 */
export function durationOption(
  value: unknown,
  name: string,
  where: string,
  range: DurationRange,
  code: ConfigErrorCode = 'ERR_OPTION_RANGE',
): number {
  const ms = parseDuration(value, `${where} ${name}`);
  const { min, max } = range;
  if (ms < min || (max !== undefined && ms > max)) {
    const requirement =
      max === undefined
        ? `at least ${formatDuration(min)}`
        : `from ${formatDuration(min)} to ${formatDuration(max)}`;
    throw optionError(code, where, name, requirement, value);
  }
  return ms;
}

/** The shortest secret accepted: 32 characters, about 190 bits when drawn from base64. */
export const MIN_SECRET_LENGTH = 32;

/**
 * Signing secrets: one string or a non-empty list (the first signs, every one verifies, so a secret can be
 * rotated without signing everyone out), each at least {@link MIN_SECRET_LENGTH} characters.
 */
export function secretsOption(value: unknown, name: string, where: string, code: ConfigErrorCode): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw optionError(code, where, name, 'a string or a non-empty list of strings', value);
  }
  for (const secret of list) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
      throw optionError(
        code,
        where,
        name,
        `${MIN_SECRET_LENGTH} characters or more each (e.g. from \`openssl rand -base64 48\`)`,
        secret,
        typeof secret === 'string' ? `${secret.length} characters` : showValue(secret),
      );
    }
  }
  return [...(list as string[])];
}

/** The logger hook: anything with `warn` and `error` methods (console, pino and winston fit). */
export function loggerOption(value: unknown, where: string, fallback: Logger): Logger {
  if (value === undefined) return fallback;
  const logger = value as Partial<Logger> | null;
  if (typeof logger?.warn !== 'function' || typeof logger.error !== 'function') {
    throw optionError(
      'ERR_OPTION_VALUE',
      where,
      'logger',
      'an object with warn() and error() methods (console, pino and winston fit)',
      value,
    );
  }
  return logger as Logger;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** A name that becomes part of Redis keys and headers: 1 to 64 letters, digits, `.`, `_` or `-`. */
export function nameOption(value: unknown, name: string, where: string, code: ConfigErrorCode): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw optionError(code, where, name, "1 to 64 letters, digits, '.', '_' or '-'", value);
  }
  return value;
}

function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
