// What may be cached (RFC 9111 storability, safe for shared caching) and for how long.
import type { OutgoingHttpHeaders } from 'node:http';
import { ageValue, MAX_DELTA_SECONDS, parseCacheControl, targetedCacheControl } from './cache-control.js';
import { parseHttpDate } from './http-date.js';
import { OWN_CACHE_CONTROL } from './targeted.js';

/** The decision about one response. Durations in milliseconds. */
export type Verdict =
  | {
      readonly store: true;
      /** How long it stays fresh from now: its freshness lifetime minus its current age, at most `ttl`. */
      readonly ttl: number;
      /** Its age now (RFC 9111 §4.2.3): hits report `Age` as this plus the time it spent in the cache. */
      readonly age: number;
      /** How long after `ttl` it may be served stale while one request refreshes it. */
      readonly swr: number;
      /** How long after `ttl` it may be served stale instead of an error. */
      readonly sie: number;
    }
  | {
      readonly store: false;
      readonly reason: string;
      /** Worth a hit-for-miss marker: the URL answers uncacheably, waiting on its fills is pointless. */
      readonly marker: boolean;
    };

/** The parts of the configuration the response rules read. */
export interface PolicyConfig {
  readonly ttlMs: number;
  readonly statuses: ReadonlySet<number>;
  readonly maxBodyBytes: number;
  readonly staleWhileRevalidateMs: number;
  readonly staleIfErrorMs: number;
  /** Store only responses that state their own freshness; `ttl` is then only the ceiling. */
  readonly explicitFreshness: boolean;
  /** Targeted cache-control fields read before Cache-Control, first valid one wins (RFC 9213). */
  readonly targetedFields: readonly string[];
}

/**
 * Headers never stored: hop-by-hop fields (RFC 9110 §7.6.1), fields specific to the proxy that answered
 * (RFC 9111 §3.1), fields about this one exchange (tracing, timing, rate-limit counters), fields the cache
 * itself writes on every answer, and its own targeted cache-control field (meant for the cache alone).
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
  'proxy-authentication-info',
  'proxy-authorization',
  'set-cookie',
  'content-length',
  'age',
  'cache-status',
  OWN_CACHE_CONTROL,
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

/**
 * Decides whether a response may be stored and for how long. `bodyLength` is known when the whole body came
 * in one `end()` call, or from Content-Length. `requestTime` is when the request reached the cache: with an
 * `Age` from upstream, the time since then counts as delay (RFC 9111 §4.2.3).
 */
export function responseVerdict(
  status: number,
  headers: OutgoingHttpHeaders,
  config: PolicyConfig,
  bodyLength: number | undefined,
  now: number,
  requestTime: number = now,
): Verdict {
  if (!config.statuses.has(status)) {
    // A 5xx is a passing failure and a 304 answers one conditional request: neither says the URL is uncacheable.
    return { store: false, reason: 'status', marker: status < 500 && status !== 304 };
  }
  if (headers['set-cookie'] !== undefined) return { store: false, reason: 'set-cookie', marker: true };
  // A valid targeted field replaces Cache-Control and Expires entirely (RFC 9213 §2.2).
  const targeted =
    config.targetedFields.length === 0 ? undefined : targetedCacheControl(headers, config.targetedFields);
  const cc = targeted ?? parseCacheControl(headers['cache-control']);
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

  const explicit =
    cc.sMaxAge ?? cc.maxAge ?? (targeted === undefined ? expiresLifetime(headers, now) : undefined);
  if (explicit === undefined && config.explicitFreshness) {
    return { store: false, reason: 'no-freshness', marker: true };
  }
  const lifetime = explicit ?? config.ttlMs;
  const age = currentAge(headers, now, requestTime);
  const ttl = Math.min(lifetime - age, config.ttlMs);
  if (ttl < 1_000) return { store: false, reason: 'expired', marker: false };
  // must-revalidate and proxy-revalidate forbid stale answers; so does s-maxage (RFC 9111 §5.2.2.10) unless
  // the response itself allows them with stale-while-revalidate or stale-if-error (RFC 5861).
  if (cc.mustRevalidate) return { store: true, ttl, age, swr: 0, sie: 0 };
  const options = cc.sMaxAge === undefined;
  return {
    store: true,
    ttl,
    age,
    swr: cc.staleWhileRevalidate ?? (options ? config.staleWhileRevalidateMs : 0),
    sie: cc.staleIfError ?? (options ? config.staleIfErrorMs : 0),
  };
}

/**
 * The response's age when it is stored (RFC 9111 §4.2.3: corrected_initial_age, resident time 0). The
 * handler is the origin here, so a response without `Age` was made now and only its `Date` can age it; with
 * an `Age` relayed from upstream, the time since the request arrived counts as response delay.
 */
function currentAge(headers: OutgoingHttpHeaders, now: number, requestTime: number): number {
  const date = headers.date === undefined ? Number.NaN : parseHttpDate(String(headers.date), now);
  const apparent = Number.isNaN(date) ? 0 : Math.max(0, now - date);
  const age = ageValue(headers.age);
  const corrected = age === undefined ? 0 : age + Math.max(0, now - requestTime);
  return Math.min(Math.max(apparent, corrected), MAX_DELTA_SECONDS * 1_000);
}

/**
 * Freshness lifetime from Expires (relative to Date when present, RFC 9111 §4.2.1); an Expires that is not a
 * valid HTTP-date means already expired (§5.3). Of several values, the first counts.
 */
function expiresLifetime(headers: OutgoingHttpHeaders, now: number): number | undefined {
  const expires = headers.expires;
  if (expires === undefined) return undefined;
  const at = parseHttpDate(typeof expires === 'object' ? String(expires[0]) : String(expires), now);
  if (Number.isNaN(at)) return 0;
  const date = headers.date === undefined ? Number.NaN : parseHttpDate(String(headers.date), now);
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
  // An If-Modified-Since that is not a valid HTTP-date is ignored (RFC 9110 §13.1.3).
  const now = Date.now();
  const since = parseHttpDate(ifModifiedSince, now);
  const modified = parseHttpDate(lastModified, now);
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}
