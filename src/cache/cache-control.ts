// Cache directives of a response: Cache-Control (RFC 9111 §5.2), targeted fields (RFC 9213) and Age, in ms.
import type { OutgoingHttpHeaders } from 'node:http';
import { parseDictionary, type TargetedValue } from './targeted.js';

/** Parsed response cache directives that matter to a shared cache. Durations in milliseconds. */
export interface CacheControl {
  noStore: boolean;
  private: boolean;
  noCache: boolean;
  /** `must-revalidate` or `proxy-revalidate`: never served stale. */
  mustRevalidate: boolean;
  sMaxAge: number | undefined;
  maxAge: number | undefined;
  /** RFC 5861 directives of the response itself. */
  staleWhileRevalidate: number | undefined;
  staleIfError: number | undefined;
}

/** The largest delta-seconds value a cache must represent (RFC 9111 §1.2.2): 2^31 seconds. */
export const MAX_DELTA_SECONDS = 2_147_483_648;

function emptyCacheControl(): CacheControl {
  return {
    noStore: false,
    private: false,
    noCache: false,
    mustRevalidate: false,
    sMaxAge: undefined,
    maxAge: undefined,
    staleWhileRevalidate: undefined,
    staleIfError: undefined,
  };
}

/**
 * Parses Cache-Control (RFC 9111 §5.2); unknown directives are ignored, a bad `max-age`/`s-maxage` counts
 * as 0 (already stale), a bad stale-* value is ignored. A repeated directive keeps its first value
 * (RFC 9111 §4.2.1).
 */
export function parseCacheControl(value: string | number | readonly string[] | undefined): CacheControl {
  const cc = emptyCacheControl();
  if (value === undefined) return cc;
  const text = typeof value === 'object' ? value.join(',') : String(value);
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    const arg =
      eq === -1
        ? ''
        : part
            .slice(eq + 1)
            .trim()
            .replace(/^"|"$/g, '');
    switch (name) {
      case 'no-store':
        cc.noStore = true;
        break;
      // With a field list these only restrict some fields; treating them as whole-response is the safe side.
      case 'private':
        cc.private = true;
        break;
      case 'no-cache':
        cc.noCache = true;
        break;
      case 'must-revalidate':
      case 'proxy-revalidate':
        cc.mustRevalidate = true;
        break;
      case 's-maxage':
        cc.sMaxAge ??= deltaSeconds(arg) ?? 0;
        break;
      case 'max-age':
        cc.maxAge ??= deltaSeconds(arg) ?? 0;
        break;
      case 'stale-while-revalidate':
        cc.staleWhileRevalidate ??= deltaSeconds(arg);
        break;
      case 'stale-if-error':
        cc.staleIfError ??= deltaSeconds(arg);
        break;
    }
  }
  return cc;
}

/** delta-seconds (RFC 9111 §1.2.2) in milliseconds; values past 2^31 s are 2^31 s; undefined if not digits. */
function deltaSeconds(arg: string): number | undefined {
  if (!/^\d+$/.test(arg)) return undefined;
  return Math.min(Number(arg), MAX_DELTA_SECONDS) * 1_000;
}

/**
 * The directives of the first targeted field (RFC 9213) present with a valid, non-empty value, or
 * undefined when there is none and Cache-Control applies.
 */
export function targetedCacheControl(
  headers: OutgoingHttpHeaders,
  fields: readonly string[],
): CacheControl | undefined {
  for (const field of fields) {
    const value = headers[field];
    if (value === undefined) continue;
    const dictionary = parseDictionary(typeof value === 'object' ? value.join(', ') : String(value));
    if (dictionary === undefined) continue;
    const cc = emptyCacheControl();
    cc.noStore = dictionary.get('no-store') === true;
    cc.private = dictionary.get('private') === true;
    cc.noCache = dictionary.get('no-cache') === true;
    cc.mustRevalidate =
      dictionary.get('must-revalidate') === true || dictionary.get('proxy-revalidate') === true;
    // Only non-negative integers are consumed; a decimal or a string is ignored (RFC 9213 §2.1).
    cc.maxAge = dictionarySeconds(dictionary.get('max-age'));
    cc.sMaxAge = dictionarySeconds(dictionary.get('s-maxage'));
    cc.staleWhileRevalidate = dictionarySeconds(dictionary.get('stale-while-revalidate'));
    cc.staleIfError = dictionarySeconds(dictionary.get('stale-if-error'));
    return cc;
  }
  return undefined;
}

function dictionarySeconds(value: TargetedValue | undefined): number | undefined {
  return typeof value === 'number' && value >= 0 ? Math.min(value, MAX_DELTA_SECONDS) * 1_000 : undefined;
}

/**
 * The Age field's value in milliseconds (RFC 9111 §5.1): the first member of a list, a value past 2^31 s is
 * 2^31 s, and anything but a non-negative integer is ignored (undefined).
 */
export function ageValue(value: OutgoingHttpHeaders[string]): number | undefined {
  if (value === undefined) return undefined;
  const first = typeof value === 'object' ? value[0] : String(value);
  if (first === undefined) return undefined;
  const comma = first.indexOf(',');
  return deltaSeconds((comma === -1 ? first : first.slice(0, comma)).trim());
}
