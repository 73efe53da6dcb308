// What may be cached (RFC 9111 storability, safe for shared caching) and for how long.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** The decision about one response. */
export type Verdict =
  | { readonly store: true; readonly ttl: number; readonly allowStale: boolean }
  | {
      readonly store: false;
      readonly reason: string;
      /** Worth a hit-for-miss marker: the URL answers uncacheably, waiting on its fills is pointless. */
      readonly marker: boolean;
    };

/** The parts of the configuration the response rules read. */
export interface PolicyConfig {
  readonly ttl: number;
  readonly statuses: ReadonlySet<number>;
  readonly maxBodyBytes: number;
}

/**
 * Headers never stored: hop-by-hop fields (RFC 9110 §7.6.1), fields about this one exchange (tracing,
 * timing, rate-limit counters), and fields the cache itself writes on every answer.
 */
const NOT_STORED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'set-cookie',
  'content-length',
  'age',
  'cache-status',
  'x-request-id',
  'x-correlation-id',
  'request-id',
  'server-timing',
  'x-response-time',
  'traceparent',
  'tracestate',
  'ratelimit',
  'ratelimit-policy',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'retry-after',
]);

/** Parsed response Cache-Control directives that matter to a shared cache. */
export interface CacheControl {
  noStore: boolean;
  private: boolean;
  noCache: boolean;
  mustRevalidate: boolean;
  sMaxAge: number | undefined;
  maxAge: number | undefined;
}

/** Parses Cache-Control (RFC 9111 §5.2); unknown directives are ignored, bad numbers count as 0. */
export function parseCacheControl(value: string | number | readonly string[] | undefined): CacheControl {
  const cc: CacheControl = {
    noStore: false,
    private: false,
    noCache: false,
    mustRevalidate: false,
    sMaxAge: undefined,
    maxAge: undefined,
  };
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
        cc.sMaxAge = seconds(arg);
        break;
      case 'max-age':
        cc.maxAge = seconds(arg);
        break;
    }
  }
  return cc;
}

function seconds(arg: string): number {
  return /^\d+$/.test(arg) ? Number(arg) * 1_000 : 0;
}

/**
 * Decides whether a response may be stored and for how long. `bodyLength` is known when the whole body came
 * in one `end()` call, or from Content-Length.
 */
export function responseVerdict(
  status: number,
  headers: OutgoingHttpHeaders,
  config: PolicyConfig,
  bodyLength: number | undefined,
  now: number,
): Verdict {
  if (!config.statuses.has(status)) {
    // A 5xx is a passing failure and a 304 answers one conditional request: neither says the URL is uncacheable.
    return { store: false, reason: 'status', marker: status < 500 && status !== 304 };
  }
  if (headers['set-cookie'] !== undefined) return { store: false, reason: 'set-cookie', marker: true };
  const cc = parseCacheControl(headers['cache-control']);
  if (cc.noStore) return { store: false, reason: 'no-store', marker: true };
  if (cc.private) return { store: false, reason: 'private', marker: true };
  if (cc.noCache) return { store: false, reason: 'no-cache', marker: true };
  const vary = headers.vary;
  if (vary !== undefined && varyNames(vary).includes('*'))
    return { store: false, reason: 'vary', marker: true };
  const type = headers['content-type'];
  if (typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream')) {
    return { store: false, reason: 'event-stream', marker: true };
  }
  if (headers['content-range'] !== undefined) return { store: false, reason: 'partial', marker: true };
  const declared = Number(headers['content-length']);
  const length = bodyLength ?? (Number.isFinite(declared) ? declared : undefined);
  if (length !== undefined && length > config.maxBodyBytes) {
    return { store: false, reason: 'too-large', marker: true };
  }

  let ttl = config.ttl;
  const lifetime = cc.sMaxAge ?? cc.maxAge ?? expiresLifetime(headers, now);
  if (lifetime !== undefined && lifetime < ttl) ttl = lifetime;
  if (ttl < 1_000) return { store: false, reason: 'expired', marker: false };
  return { store: true, ttl, allowStale: !cc.mustRevalidate };
}

/** Freshness lifetime from Expires (relative to Date when present); an invalid Expires means already expired. */
function expiresLifetime(headers: OutgoingHttpHeaders, now: number): number | undefined {
  const expires = headers.expires;
  if (expires === undefined) return undefined;
  const at = Date.parse(String(expires));
  if (Number.isNaN(at)) return 0;
  const date = headers.date === undefined ? Number.NaN : Date.parse(String(headers.date));
  return Math.max(0, at - (Number.isNaN(date) ? now : date));
}

/** Lower-case field names listed in a Vary header. */
export function varyNames(value: string | number | readonly string[]): string[] {
  const text = typeof value === 'object' ? value.join(',') : String(value);
  const names: string[] = [];
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '' && !names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * The headers to store: everything the response carries, except fields never stored (above), fields named
 * in `Connection`, and fields an earlier middleware had already set to the same value before the cache
 * ran (they are set again on every request, like a request id, and must not be replayed).
 */
export function storedHeaders(
  headers: OutgoingHttpHeaders,
  before: OutgoingHttpHeaders | undefined,
): [string, string | string[]][] {
  const connection = headers.connection;
  const listed = connection === undefined ? [] : varyNames(connection);
  const out: [string, string | string[]][] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined || NOT_STORED.has(name) || listed.includes(name)) continue;
    if (name.length > 255 || (Array.isArray(value) && value.length > 255)) continue;
    if (before !== undefined && sameValue(before[name], value)) continue;
    out.push([name, Array.isArray(value) ? value.map(String) : String(value)]);
  }
  return out;
}

function sameValue(a: OutgoingHttpHeaders[string], b: OutgoingHttpHeaders[string]): boolean {
  if (a === undefined) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => v === b[i]);
  }
  return String(a) === String(b);
}

/**
 * Whether a request carries credentials: `Authorization`, `Proxy-Authorization`, or a cookie that is not on
 * the public list. Unknown cookie names count as credentials, so any session cookie name is caught.
 */
export function hasCredentials(
  headers: IncomingHttpHeaders,
  publicNames: ReadonlySet<string>,
  publicPatterns: readonly RegExp[],
): boolean {
  if (headers.authorization !== undefined || headers['proxy-authorization'] !== undefined) return true;
  const cookie = headers.cookie;
  if (cookie === undefined || cookie === '') return false;
  let start = 0;
  while (start < cookie.length) {
    let end = cookie.indexOf(';', start);
    if (end === -1) end = cookie.length;
    const eq = cookie.indexOf('=', start);
    const name = cookie.slice(start, eq === -1 || eq > end ? end : eq).trim();
    if (name !== '' && !publicNames.has(name) && !matchesAny(publicPatterns, name)) return true;
    start = end + 1;
  }
  return false;
}

function matchesAny(patterns: readonly RegExp[], name: string): boolean {
  for (const pattern of patterns) if (pattern.test(name)) return true;
  return false;
}

/** RFC 9110 §13.1.2 weak comparison of an If-None-Match list with an ETag. */
export function noneMatch(ifNoneMatch: string, etag: string): boolean {
  if (etag === '') return false;
  if (ifNoneMatch.trim() === '*') return true;
  const own = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const raw of ifNoneMatch.split(',')) {
    const tag = raw.trim();
    if ((tag.startsWith('W/') ? tag.slice(2) : tag) === own) return true;
  }
  return false;
}

/** Whether a response with this Last-Modified is unmodified since If-Modified-Since (RFC 9110 §13.1.3). */
export function notModifiedSince(ifModifiedSince: string, lastModified: string | undefined): boolean {
  if (lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  const modified = Date.parse(lastModified);
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}
