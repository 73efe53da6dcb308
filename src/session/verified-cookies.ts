// Remembers cookies whose signature already checked out, so a returning visitor costs no HMAC and no SHA-256.
import { cookiesOf } from '../core/cookie-header.js';
import { findSessionCookie, type VerifiedCookie, verifyCookieValue } from './cookie.js';
import { handleOf, tagOfId } from './ids.js';

/** A verified cookie with what the request derives from it, computed once per cookie rather than per request. */
export interface KnownCookie extends VerifiedCookie {
  /** The cookie value as received: sent back as is while it is signed with the current secret. */
  readonly value: string;
  readonly handle: string;
  readonly tag: string | undefined;
  /** The session's Redis key. */
  readonly key: string;
}

/** How many verified cookies are remembered (about 300 bytes each). */
const DEFAULT_MAX = 10_000;
/** Longer Cookie headers are read every time rather than remembered, which bounds the memory to ~10 MB. */
const MAX_REMEMBERED_HEADER = 1_024;

/**
 * A bounded map from cookie value to its verification. Only values that verified are kept, and only an exact
 * match is a hit, so the map grows only with cookies this server signed; the oldest entry makes room.
 */
export class VerifiedCookies {
  readonly #known = new Map<string, KnownCookie>();
  /** Whole Cookie headers that held a verified cookie: a returning visitor's header is not even parsed. */
  readonly #headers = new Map<string, KnownCookie>();
  readonly #verify = (value: string) => this.verify(value);
  readonly #keys: readonly Buffer[];
  readonly #keyOf: (handle: string, tag: string | undefined) => string;
  readonly #max: number;

  constructor(
    keys: readonly Buffer[],
    keyOf: (handle: string, tag: string | undefined) => string,
    max = DEFAULT_MAX,
  ) {
    this.#keys = keys;
    this.#keyOf = keyOf;
    this.#max = max;
  }

  /**
   * The verified cookie `name` a request carries, read by the suite's one Cookie-header reader. One cache
   * serves one cookie name (one per middleware instance).
   */
  find(
    req: { readonly headers: { readonly cookie?: string | undefined } },
    name: string,
  ): KnownCookie | undefined {
    const header = req.headers.cookie;
    if (header === undefined) return undefined;
    const seen = this.#headers.get(header);
    if (seen !== undefined) return seen;
    const found = findSessionCookie(cookiesOf(req), name, this.#verify);
    if (found !== undefined && header.length <= MAX_REMEMBERED_HEADER)
      remember(this.#headers, header, found, this.#max);
    return found;
  }

  verify(value: string): KnownCookie | undefined {
    const known = this.#known.get(value);
    if (known !== undefined) return known;
    const verified = verifyCookieValue(value, this.#keys);
    if (verified === undefined) return undefined;
    const handle = handleOf(verified.id);
    const tag = tagOfId(verified.id);
    const entry: KnownCookie = { ...verified, value, handle, tag, key: this.#keyOf(handle, tag) };
    remember(this.#known, value, entry, this.#max);
    return entry;
  }
}

/** Adds to a bounded map; the oldest entry makes room. */
function remember(map: Map<string, KnownCookie>, key: string, entry: KnownCookie, max: number): void {
  if (map.size >= max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, entry);
}
