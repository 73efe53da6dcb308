// Whether a request carries credentials, so its answer may be personal and must not be shared.
import type { IncomingHttpHeaders } from 'node:http';
import { cookiesOf } from '../core/cookie-header.js';

/**
 * Whether a request carries credentials: `Authorization`, `Proxy-Authorization`, a cookie that is not on
 * the public list (unknown names count, so any session cookie name is caught), or a Cookie header that can
 * be read more than one way. The cookies are read by the same reader the session middleware uses, so a
 * header that loads a session is always seen here as carrying credentials.
 */
export function hasCredentials(
  req: { readonly headers: IncomingHttpHeaders },
  publicNames: ReadonlySet<string>,
  publicPatterns: readonly RegExp[],
): boolean {
  const headers = req.headers;
  if (headers.authorization !== undefined || headers['proxy-authorization'] !== undefined) return true;
  const reading = cookiesOf(req);
  if (reading.ambiguous) return true;
  for (const name in reading.cookies) {
    if (!publicNames.has(name) && !matchesAny(publicPatterns, name)) return true;
  }
  return false;
}

function matchesAny(patterns: readonly RegExp[], name: string): boolean {
  for (const pattern of patterns) if (pattern.test(name)) return true;
  return false;
}
