// Cache keys: the default request key, variant (Vary) values, and the hash that names an entry in Redis.
import * as crypto from 'node:crypto';
import type { Request } from 'express';
import { requestHost } from '../core/request-host.js';
import type { DecodedEntry } from './entry.js';

/** The cache key of a request, before hashing; undefined when the request bypasses the cache. */
export type KeyOf = (req: Request) => string | undefined;

/** The key function of a cache: the `key` option given the default key, or the default key alone. */
export function keyFunction(
  query: ReadonlySet<string> | undefined,
  custom: ((req: Request, defaultKey: string) => string | undefined) | undefined,
): KeyOf {
  if (custom === undefined) return (req) => defaultKey(req, query);
  return (req) => {
    const standard = defaultKey(req, query);
    return standard === undefined ? undefined : custom(req, standard);
  };
}

/** SHA-256 in base64url; the one-shot `crypto.hash` (Node 20.12+) when present, it is faster per call. */
const sha256: (data: string) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'base64url')
    : (data) => crypto.createHash('sha256').update(data).digest('base64url');

/**
 * The default key of a request: scheme (as Express reports it, so `trust proxy` applies), the host as sent
 * with its port, the path, and the query parameters sorted by name only, so `?b=2&a=1` shares the entry of
 * `?a=1&b=2` while `?a=1&a=2` and `?a=2&a=1` (which an app reading the first value answers differently) do
 * not. With `query`, only the listed parameters are part of the key. Undefined (the request bypasses the
 * cache) when the host is not a valid `host[:port]`. The method is not part of it: HEAD is answered from the
 * GET entry.
 */
export function defaultKey(req: Request, query?: ReadonlySet<string>): string | undefined {
  const host = requestHost(req);
  if (host === undefined) return undefined;
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  const origin = `${req.protocol}://${host}`;
  if (q === -1) return origin + url;
  const path = url.slice(0, q);
  const search = keyedQuery(url.slice(q + 1), query);
  return search === '' ? origin + path : `${origin + path}?${search}`;
}

/** The parameters of a query string that select an entry, stably sorted by (decoded) name. */
function keyedQuery(search: string, query: ReadonlySet<string> | undefined): string {
  if (search === '' || query?.size === 0) return '';
  const params: { name: string; part: string }[] = [];
  for (const part of search.split('&')) {
    if (part === '') continue;
    const name = parameterName(part);
    if (query === undefined || query.has(name)) params.push({ name, part });
  }
  if (params.length === 1) return (params[0] as { part: string }).part;
  // Array.prototype.sort is stable: repeated parameters keep their order.
  params.sort(byName);
  let out = '';
  for (const p of params) out += out === '' ? p.part : `&${p.part}`;
  return out;
}

/**
 * A parameter's name as the app's query parser sees it: percent-decoded, `+` as a space, and without a
 * bracket suffix (`page[]`, `page[0]` and `pa%67e` are all `page` to qs), so a listed parameter cannot be
 * smuggled past the key under another spelling.
 */
function parameterName(part: string): string {
  const eq = part.indexOf('=');
  let name = eq === -1 ? part : part.slice(0, eq);
  if (name.includes('+')) name = name.replaceAll('+', ' ');
  if (name.includes('%')) {
    try {
      name = decodeURIComponent(name);
    } catch {
      // Left as sent: the app's parser leaves it undecoded as well.
    }
  }
  const bracket = name.indexOf('[');
  return bracket > 0 ? name.slice(0, bracket) : name;
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Names an entry: `{<hash of the key>}` followed, for a variant (Vary values) or a private scope, by a hash of
 * those. The key's hash is the Redis hash tag, so every variant and scope of one URL lives in one slot and
 * can be invalidated together by one script. NUL cannot occur in a URL or a header value, so the parts
 * cannot be shifted into each other; the private scope is marked so that "no scope" never equals any scope.
 */
export function entryHash(key: string, varyValues: string, scope: string | undefined): string {
  const url = urlHash(key);
  if (varyValues === '' && scope === undefined) return `{${url}}`;
  return `{${url}}${sha256(scope === undefined ? varyValues : `${varyValues}\0p${scope}`)}`;
}

/** The hash of a cache key: the hash tag shared by all entries of that key. */
export function urlHash(key: string): string {
  return sha256(key);
}

/** A request header's value normalised for comparison: lower case, whitespace runs collapsed. */
export function normalizedHeader(name: string, value: string | string[] | undefined): string {
  if (value === undefined) return '';
  const joined = typeof value === 'string' ? value : value.join(', ');
  if (name === 'accept-encoding') return acceptedCodings(joined);
  return joined.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The values of the configured `vary` headers, joined; '' when none are configured. */
export function varyKeyPart(req: Request, names: readonly string[]): string {
  let out = '';
  for (const name of names) out += `${normalizedHeader(name, req.headers[name])}\0`;
  return out;
}

/**
 * Accept-Encoding reduced to the codings a server would pick from (br, gzip, deflate) with q > 0, best
 * first: clients spelling the same preference differently share one variant.
 */
export function acceptedCodings(value: string): string {
  const found: { coding: string; q: number; i: number }[] = [];
  const parts = value.toLowerCase().split(',');
  for (let i = 0; i < parts.length; i++) {
    const [rawCoding, ...params] = (parts[i] as string).split(';');
    const coding = (rawCoding as string).trim();
    if (coding !== 'br' && coding !== 'gzip' && coding !== 'deflate' && coding !== '*') continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (q > 0 && Number.isFinite(q)) found.push({ coding, q, i });
  }
  found.sort((a, b) => b.q - a.q || a.i - b.i);
  return found.map((f) => f.coding).join(',');
}

/** Whether a request has the values of the headers an entry varies on (beyond the `vary` option) at fill time. */
export function varyMatches(entry: DecodedEntry, req: Request): boolean {
  const vary = entry.vary;
  for (let i = 0; i < vary.length; i += 2) {
    const name = vary[i] as string;
    if (name === 'accept-encoding') {
      if (!acceptsCoding(req.headers['accept-encoding'], contentEncoding(entry))) return false;
    } else if (normalizedHeader(name, req.headers[name]) !== vary[i + 1]) {
      return false;
    }
  }
  return true;
}

function contentEncoding(entry: DecodedEntry): string {
  const headers = entry.headers;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'content-encoding') {
      const v = headers[i + 1];
      return (typeof v === 'string' ? v : (v?.[0] ?? '')).trim().toLowerCase();
    }
  }
  return '';
}

/** Whether a request's Accept-Encoding allows a body in `coding` (identity is always acceptable). */
export function acceptsCoding(acceptEncoding: string | string[] | undefined, coding: string): boolean {
  if (coding === '' || coding === 'identity') return true;
  if (acceptEncoding === undefined) return false;
  const accepted = acceptedCodings(
    typeof acceptEncoding === 'string' ? acceptEncoding : acceptEncoding.join(','),
  );
  return accepted.split(',').some((c) => c === coding || c === '*');
}

/** A strong ETag for a body: a quoted, truncated SHA-256. */
export function strongEtag(body: Buffer): string {
  return `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}
