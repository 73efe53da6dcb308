// Remembers cookies whose signature already checked out, so a returning visitor costs no HMAC and no SHA-256.
import { type VerifiedCookie, verifyCookieValue } from './cookie.js';
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

/**
 * A bounded map from cookie value to its verification. Only values that verified are kept, and only an exact
 * match is a hit, so the map grows only with cookies this server signed; the oldest entry makes room.
 */
export class CookieCache {
  readonly #known = new Map<string, KnownCookie>();
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

  verify(value: string): KnownCookie | undefined {
    const known = this.#known.get(value);
    if (known !== undefined) return known;
    const verified = verifyCookieValue(value, this.#keys);
    if (verified === undefined) return undefined;
    const handle = handleOf(verified.id);
    const tag = tagOfId(verified.id);
    const entry: KnownCookie = { ...verified, value, handle, tag, key: this.#keyOf(handle, tag) };
    if (this.#known.size >= this.#max) {
      const oldest = this.#known.keys().next().value;
      if (oldest !== undefined) this.#known.delete(oldest);
    }
    this.#known.set(value, entry);
    return entry;
  }
}
