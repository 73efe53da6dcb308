// Cache keys: the default request key, variant (Vary) values, and the hash that names an entry in Redis.
import * as crypto from 'node:crypto';
import type { Request } from 'express';

/** SHA-256 in base64url; the one-shot `crypto.hash` (Node 20.12+) when present, it is faster per call. */
const sha256: (data: string) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'base64url')
    : (data) => crypto.createHash('sha256').update(data).digest('base64url');

/**
 * The default key: scheme, host (both as Express reports them, so `trust proxy` applies), path and the query
 * parameters sorted, so `?a=1&b=2` and `?b=2&a=1` share an entry. The method is not part of it: HEAD is
 * answered from the GET entry.
 */
export function defaultKey(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  const origin = `${req.protocol}://${req.hostname ?? ''}`;
  if (q === -1) return origin + url;
  const path = url.slice(0, q);
  const params = url.slice(q + 1).split('&');
  let query = '';
  if (params.length === 1) query = params[0] as string;
  else
    query = params
      .filter((p) => p !== '')
      .sort()
      .join('&');
  return query === '' ? origin + path : `${origin + path}?${query}`;
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
