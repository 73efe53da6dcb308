// A Set-Cookie that only re-sends a cookie the request carried gives nobody anything new, so it need not stop a store.
import type { OutgoingHttpHeaders } from 'node:http';
import { parseSetCookie } from 'cookie';
import { AS_SENT, cookiesOf } from '../core/cookie-header.js';

interface HasHeaders {
  readonly headers: { readonly cookie?: string | undefined };
}

/**
 * `headers` without their `Set-Cookie` when every line of it re-sends, with a new expiry only, a cookie the
 * request already carried with the same value: a session with sliding expiry does that on every answer, and
 * a signed-in visitor's pages cached per user (`privateScope`) must still be stored. Set-Cookie itself is
 * never part of an entry. Anything else (a new cookie, a changed value, a deletion, an ambiguous request
 * Cookie header) leaves the headers as they are, and the store is refused as before.
 */
export function withoutRefreshedCookies(
  headers: OutgoingHttpHeaders,
  req: HasHeaders,
  now: number,
): OutgoingHttpHeaders {
  const sent = headers['set-cookie'];
  if (sent === undefined) return headers;
  const reading = cookiesOf(req);
  if (reading.ambiguous) return headers;
  for (const line of Array.isArray(sent) ? sent : [String(sent)]) {
    // Read as sent, the way the shared Cookie reader keeps the request's values, so the two compare.
    const cookie = parseSetCookie(line, AS_SENT);
    if (cookie.name === '' || reading.cookies[cookie.name] !== cookie.value) return headers;
    const deleted =
      (cookie.maxAge !== undefined && cookie.maxAge <= 0) ||
      (cookie.expires !== undefined && cookie.expires.getTime() <= now);
    if (deleted) return headers;
  }
  const { 'set-cookie': _refreshed, ...rest } = headers;
  return rest;
}
