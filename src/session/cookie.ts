// The session cookie: `<id>.<HMAC-SHA256 signature>`, found in the Cookie header and written as Set-Cookie.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type CookieReading, cookieValues, readCookieHeader } from '../core/cookie-header.js';
import { ID_PATTERN } from './ids.js';

/** base64url of a SHA-256 HMAC. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Lengths of a signed cookie value: anonymous (32 + 1 + 43) and signed-in (55 + 1 + 43) ids. */
const ANONYMOUS_VALUE_LENGTH = 76;
const USER_VALUE_LENGTH = 99;
const EXPIRED = 'Thu, 01 Jan 1970 00:00:00 GMT';

/** A cookie whose signature checked out. */
export interface VerifiedCookie {
  readonly id: string;
  /** Which secret verified it: 0 is the current one; anything else means the cookie should be re-signed. */
  readonly keyIndex: number;
}

/** Signs `id` with `key`: the cookie value. */
export function signId(id: string, key: Buffer): string {
  return `${id}.${createHmac('sha256', key).update(id).digest('base64url')}`;
}

/**
 * Checks a cookie value against every key, with a constant-time compare. Anything malformed (unsigned,
 * truncated, tampered, oversized) yields undefined: it is treated as no session and never used as an id.
 */
export function verifyCookieValue(value: string, keys: readonly Buffer[]): VerifiedCookie | undefined {
  if (value.length !== ANONYMOUS_VALUE_LENGTH && value.length !== USER_VALUE_LENGTH) return undefined;
  const dot = value.lastIndexOf('.');
  const id = value.slice(0, dot);
  const signature = value.slice(dot + 1);
  if (!SIGNATURE_PATTERN.test(signature) || !ID_PATTERN.test(id)) return undefined;
  const given = Buffer.from(signature, 'latin1');
  let found = -1;
  // Every key is tried even after a match, so the time taken does not tell which secret signed the cookie.
  for (let i = 0; i < keys.length; i++) {
    const expected = Buffer.from(
      createHmac('sha256', keys[i] as Buffer)
        .update(id)
        .digest('base64url'),
      'latin1',
    );
    if (timingSafeEqual(given, expected) && found === -1) found = i;
  }
  return found === -1 ? undefined : { id, keyIndex: found };
}

/**
 * Finds the session cookie named `name` in a Cookie header and verifies it. When the header carries the name
 * more than once (a parent domain's cookie next to ours), the first one that verifies wins.
 */
export function readSessionCookie(
  header: string | undefined,
  name: string,
  keys: readonly Buffer[],
): VerifiedCookie | undefined {
  return findSessionCookie(readCookieHeader(header), name, (value) => verifyCookieValue(value, keys));
}

/**
 * {@link readSessionCookie} on a header already read, with the verification step given (e.g. a cache in
 * front of it). Only a cookie the shared reader names `name` counts: `_ga=1, sid=…` or `_ga=1 sid=…` is one
 * cookie called `_ga`, exactly as the response cache sees it, and never loads a session.
 */
export function findSessionCookie<T>(
  reading: CookieReading,
  name: string,
  verify: (value: string) => T | undefined,
): T | undefined {
  const first = reading.cookies[name];
  if (first === undefined) return undefined;
  if (!reading.repeated) return verify(unquoted(first));
  for (const value of cookieValues(reading.header, name)) {
    const verified = verify(unquoted(value));
    if (verified !== undefined) return verified;
  }
  return undefined;
}

/** RFC 6265 allows a cookie value in double quotes; the quotes are not part of it. */
function unquoted(value: string): string {
  return value.length > 1 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22
    ? value.slice(1, -1)
    : value;
}

/**
 * A Set-Cookie value whose `Max-Age` is the session's remaining lifetime in Redis, rounded down so the cookie
 * never outlives the session. `Expires` says the same for clients that ignore `Max-Age`.
 */
export function setCookieValue(
  name: string,
  value: string,
  ttlMs: number,
  attributes: string,
  secure: boolean,
): string {
  const seconds = Math.max(0, Math.floor(ttlMs / 1000));
  const expires = httpDate(Math.floor(Date.now() / 1000) + seconds);
  return `${name}=${value}; Max-Age=${seconds}; Expires=${expires}${attributes}${secure ? '; Secure' : ''}`;
}

/** The last `Expires` date formatted, by its epoch second: a busy second's cookies share one Date and string. */
let formattedSecond = -1;
let formattedDate = '';

/** An HTTP date (`Thu, 01 Jan 1970 00:00:00 GMT`) of an epoch second. */
function httpDate(second: number): string {
  if (second !== formattedSecond) {
    formattedDate = new Date(second * 1000).toUTCString();
    formattedSecond = second;
  }
  return formattedDate;
}

/** A Set-Cookie value that deletes the session cookie. */
export function clearCookieValue(name: string, attributes: string, secure: boolean): string {
  return `${name}=; Max-Age=0; Expires=${EXPIRED}${attributes}${secure ? '; Secure' : ''}`;
}

/** A Set-Cookie value without `Max-Age` or `Expires`: the browser drops it when it closes. */
export function browserCookieValue(name: string, value: string, attributes: string, secure: boolean): string {
  return `${name}=${value}${attributes}${secure ? '; Secure' : ''}`;
}
