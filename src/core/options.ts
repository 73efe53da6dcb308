// Validation helpers for factory options: every check throws a coded ConfigError at app start.
import { ConfigError } from './errors.js';

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
    throw new ConfigError(
      'ERR_OPTION_RANGE',
      `${where}: \`${name}\` must be an integer from ${min} to ${max} (got ${String(value)}).`,
    );
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
    const list = allowed.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');
    throw new ConfigError(
      'ERR_OPTION_VALUE',
      `${where}: \`${name}\` must be one of ${list} (got ${String(value)}).`,
    );
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
  if (typeof value !== 'function') {
    throw new ConfigError(
      'ERR_OPTION_VALUE',
      `${where}: \`${name}\` must be a function (got ${typeof value}).`,
    );
  }
  return value as F;
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
