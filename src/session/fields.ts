// Maps session data and meta to hash fields and back, and finds which top-level keys a request changed.
import { errorMessage, type Logger } from '../core/index.js';

/** Properties of the session object that are its API, never data. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  'id',
  'handle',
  'userId',
  'isNew',
  'cookie',
  'signIn',
  'signOut',
  'regenerate',
  'destroy',
  'save',
  'reload',
  'touch',
  'constructor',
  '__proto__',
]);

/** The hash field of a data key: keys starting with `@` get one more `@`, so they never collide with meta. */
export function fieldOf(key: string): string {
  return key.charCodeAt(0) === 0x40 ? `@${key}` : key;
}

/** Meta fields found while loading a session (`@u`, `@ua`, `@ip`, `@b`, `@m`, `@c`, `@a`, `@s`). */
export type Meta = Record<string, string>;

/** Meta fields carried over when a session changes its id. */
const CARRIED_META = ['@u', '@ua', '@ip', '@b', '@m'] as const;
/** Longest User-Agent kept for the device list. */
const MAX_USER_AGENT = 512;

/**
 * Puts the data fields of a loaded hash on `target` as plain properties, records their JSON in `saved`, and
 * returns the meta fields. A value that is not valid JSON is left off `target`, so the next write deletes it.
 */
export function loadFields(fields: readonly string[], target: object, saved: Map<string, string>): Meta {
  const meta: Meta = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const field = fields[i] as string;
    const raw = fields[i + 1] as string;
    const key = keyOfField(field);
    if (key === undefined) {
      meta[field] = raw;
      continue;
    }
    saved.set(key, raw);
    if (RESERVED_KEYS.has(key)) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      continue;
    }
    (target as Record<string, unknown>)[key] = value;
  }
  return meta;
}

/** The writes that bring Redis in line with the session object. */
export interface FieldChanges {
  /** field/value pairs to HSET (fields already mapped with {@link fieldOf}). */
  readonly pairs: string[];
  /** fields to HDEL. */
  readonly deletions: string[];
}

/**
 * Compares the session object's own properties with what Redis holds (`saved`): a key whose JSON differs is
 * written, a key that is gone (or now `undefined`) is deleted. Nested changes count because whole values are
 * compared as JSON. Undefined when nothing changed. A value JSON cannot encode is left unsaved and logged.
 */
export function diffFields(
  source: object,
  saved: ReadonlyMap<string, string>,
  logger: Logger,
): FieldChanges | undefined {
  let changes: FieldChanges | undefined;
  const data = source as Record<string, unknown>;
  const keys = Object.keys(source);
  for (const key of keys) {
    if (RESERVED_KEYS.has(key)) continue;
    const json = encodeValue(key, data[key], logger);
    if (json === undefined || saved.get(key) === json) continue;
    changes ??= { pairs: [], deletions: [] };
    changes.pairs.push(fieldOf(key), json);
  }
  for (const key of saved.keys()) {
    if (Object.hasOwn(source, key) && isEncodable(data[key])) continue;
    changes ??= { pairs: [], deletions: [] };
    changes.deletions.push(fieldOf(key));
  }
  return changes;
}

/** All data of `source` (or only `keep` keys) as field/value pairs, with their JSON recorded in `saved`. */
export function allFields(source: object, saved: Map<string, string>, logger: Logger): string[] {
  const pairs: string[] = [];
  const data = source as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    if (RESERVED_KEYS.has(key)) continue;
    const json = encodeValue(key, data[key], logger);
    if (json === undefined) continue;
    pairs.push(fieldOf(key), json);
    saved.set(key, json);
  }
  return pairs;
}

/**
 * Applies written changes to the record of what Redis holds, reading the data keys back from the fields (so a
 * diff needs no map of its own); meta fields among the pairs (the lifetime of a retimed write) are not data.
 */
export function applyChanges(saved: Map<string, string>, changes: FieldChanges): void {
  const { pairs, deletions } = changes;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const key = keyOfField(pairs[i] as string);
    if (key !== undefined) saved.set(key, pairs[i + 1] as string);
  }
  for (const field of deletions) {
    const key = keyOfField(field);
    if (key !== undefined) saved.delete(key);
  }
}

/** The data key of a hash field ({@link fieldOf} undone), or undefined for a meta field. */
function keyOfField(field: string): string | undefined {
  if (field.charCodeAt(0) !== 0x40) return field;
  return field.charCodeAt(1) === 0x40 ? field.slice(1) : undefined;
}

/** The data `keep` selects, as a plain object. */
export function keptView(source: object, keep: boolean | readonly string[]): object {
  if (keep === true) return source;
  const view: Record<string, unknown> = {};
  if (keep === false) return view;
  const data = source as Record<string, unknown>;
  for (const key of keep) {
    if (Object.hasOwn(source, key) && !RESERVED_KEYS.has(key)) view[key] = data[key];
  }
  return view;
}

/** Removes data properties from `target`: all of them, or those not listed in `keep`. */
export function clearData(target: object, keep: boolean | readonly string[]): void {
  if (keep === true) return;
  for (const key of Object.keys(target)) {
    if (keep === false || !keep.includes(key)) delete (target as Record<string, unknown>)[key];
  }
}

/** The meta of a session renewed under a new id: who, where from, its binding and its own lifetime. */
export function carriedMeta(meta: Meta | undefined): Meta {
  const carried: Meta = {};
  if (meta === undefined) return carried;
  for (const name of CARRIED_META) {
    const value = meta[name];
    if (value !== undefined) carried[name] = value;
  }
  return carried;
}

/** The meta of a session signed in on this request: the user, and the device it shows in the device list. */
export function signInMeta(userId: string, userAgent: string | undefined, ip: string | undefined): Meta {
  const meta: Meta = { '@u': userId };
  if (userAgent) meta['@ua'] = userAgent.slice(0, MAX_USER_AGENT);
  if (ip) meta['@ip'] = ip;
  return meta;
}

/** Appends meta fields to field/value pairs. */
export function pushMeta(pairs: string[], meta: Meta): void {
  for (const name of Object.keys(meta)) pairs.push(name, meta[name] as string);
}

/** `@m`: a lifetime in ms, or '0' for a browser-session cookie (whose session keeps the default idle timeout). */
export function encodeLifetime(lifetime: number | null): string {
  return lifetime === null ? '0' : String(lifetime);
}

/** The lifetime an `@m` field holds: ms, or null for a browser-session cookie. */
export function decodeLifetime(stored: string): number | null {
  const ms = Number(stored);
  return ms > 0 ? ms : null;
}

/** How long a session survives without use: its own lifetime when it has one, else the default. */
export function idleOf(lifetime: number | null | undefined, fallback: number): number {
  return typeof lifetime === 'number' ? lifetime : fallback;
}

/** A value's JSON; undefined when it has none (undefined, a function) or cannot be encoded (reported). */
function encodeValue(key: string, value: unknown, logger: Logger): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    logger.error(`Session key '${key}' is not JSON-serialisable; it was not saved`, {
      source: 'session',
      error: errorMessage(error),
    });
    return undefined;
  }
}

function isEncodable(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}
