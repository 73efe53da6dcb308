// The list options of the response cache (vary, query, statuses, publicCookies): checked and resolved.
import { optionError } from '../core/index.js';

/** An HTTP field name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function resolveVary(value: unknown, where: string): readonly string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || !TOKEN.test(v))) {
    throw optionError(
      'ERR_CACHE_VARY_INVALID',
      where,
      'vary',
      "a list of request header names, e.g. ['accept-language']",
      value,
    );
  }
  const names = [...new Set(value.map((v: string) => v.toLowerCase()))].sort();
  for (const n of names) {
    if (n === 'cookie' || n === 'authorization') {
      throw optionError(
        'ERR_CACHE_VARY_INVALID',
        where,
        'vary',
        "a list without 'cookie' or 'authorization': cache per user with `privateScope`",
        n,
      );
    }
  }
  return Object.freeze(names);
}

export function resolveQuery(value: unknown, where: string): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '' || v.length > 256)) {
    throw optionError(
      'ERR_CACHE_QUERY_INVALID',
      where,
      'query',
      "a list of query parameter names, e.g. ['page', 'sort'] ([] ignores the query)",
      value,
    );
  }
  return new Set(value as string[]);
}

export function resolveStatuses(value: unknown, where: string): ReadonlySet<number> {
  if (
    !Array.isArray(value) ||
    value.some(
      (s) => typeof s !== 'number' || !Number.isInteger(s) || s < 200 || s > 499 || s === 206 || s === 304,
    )
  ) {
    throw optionError(
      'ERR_CACHE_STATUS_INVALID',
      where,
      'statuses',
      'a list of status codes from 200 to 499 except 206 and 304 (a 5xx is a passing failure: use ' +
        '`staleIfError` to answer from the cache while the origin fails)',
      value,
    );
  }
  return new Set(value as number[]);
}

export function resolveCookies(
  value: unknown,
  where: string,
): {
  publicCookieNames: ReadonlySet<string>;
  publicCookiePatterns: readonly RegExp[];
} {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' && !(v instanceof RegExp))) {
    throw optionError(
      'ERR_CACHE_COOKIES_INVALID',
      where,
      'publicCookies',
      'a list of cookie names or regular expressions',
      value,
    );
  }
  const names = new Set<string>();
  const patterns: RegExp[] = [];
  for (const v of value as (string | RegExp)[]) {
    // A global or sticky regex keeps lastIndex between test() calls, which would make matches flip.
    if (typeof v === 'string') names.add(v);
    else patterns.push(new RegExp(v.source, v.flags.replace(/[gy]/g, '')));
  }
  return { publicCookieNames: names, publicCookiePatterns: Object.freeze(patterns) };
}
