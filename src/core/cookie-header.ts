// The one reader of the Cookie request header: every middleware that looks at cookies asks it, so none can disagree.
import { parseCookie } from 'cookie';
import { contextOf } from './request-context.js';

/** What a Cookie header says, read once per request. */
export interface CookieReading {
  /** The header as received ('' when absent). */
  readonly header: string;
  /**
   * The first value of each cookie by name, as the `cookie` package tokenises the header (split on `;`,
   * name and value split at the first `=`, surrounding spaces and tabs trimmed). Values are as sent: not
   * URL-decoded, surrounding double quotes kept.
   */
  readonly cookies: Readonly<Record<string, string | undefined>>;
  /**
   * The header can be read more than one way: a name is sent more than once, or some byte is outside the
   * RFC 6265 grammar (a space or comma inside a value or a name, a segment without `=`, control or non-ASCII
   * bytes). Browsers never send that for cookies set by a server; a cache must treat it as credentials.
   */
  readonly ambiguous: boolean;
  /** Some cookie name appears more than once (a parent domain's cookie next to ours, or a forged header). */
  readonly repeated: boolean;
}

/**
 * A header in RFC 6265 §4.2.1 form, leniently spaced: `name=value` pairs separated by `;`, where a name is
 * a token and a value is cookie-octets, optionally in double quotes. Empty segments are tolerated.
 */
const WELL_FORMED =
  /^[ \t;]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+=(?:[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*|"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*")[ \t]*(?:;[ \t;]*|$))*$/;

/** Values are kept as sent: a session id or an analytics id needs no URL-decoding, and decoding adds readings. */
export const AS_SENT = { decode: (value: string) => value };

const EMPTY: CookieReading = Object.freeze({
  header: '',
  cookies: Object.freeze(Object.create(null) as Record<string, string | undefined>),
  ambiguous: false,
  repeated: false,
});

interface HasHeaders {
  readonly headers: { readonly cookie?: string | undefined };
}

/**
 * The request's Cookie header, read. The reading is kept in the request's context, so every middleware on the way
 * shares it (and the header is parsed once); it is read again if something rewrote the header meanwhile.
 */
export function cookiesOf(req: HasHeaders): CookieReading {
  const header = req.headers.cookie;
  if (header === undefined || header === '') return EMPTY;
  // Kept in the request's one context property (see request-context.ts for why).
  const context = contextOf(req);
  const known = context.cookies;
  if (known !== undefined && known.header === header) return known;
  const reading = readCookieHeader(header);
  context.cookies = reading;
  return reading;
}

/** Reads one Cookie header. */
export function readCookieHeader(header: string | undefined): CookieReading {
  if (header === undefined || header === '') return EMPTY;
  const cookies = parseCookie(header, AS_SENT);
  // Shorter than `a=` holds no pair, and the `cookie` package does not look at it.
  if (header.length < 2) return { header, cookies, ambiguous: !WELL_FORMED.test(header), repeated: false };
  let names = 0;
  for (const _ in cookies) names++;
  const repeated = countPairs(header) !== names;
  return { header, cookies, ambiguous: repeated || !WELL_FORMED.test(header), repeated };
}

/** Every value of cookie `name`, in header order: each `;` segment tokenised on its own by the `cookie` package. */
export function cookieValues(header: string, name: string): string[] {
  const values: string[] = [];
  for (const segment of header.split(';')) {
    const value = parseCookie(segment, AS_SENT)[name];
    if (value !== undefined) values.push(value);
  }
  return values;
}

/** How many name=value pairs the `cookie` package finds: one per `;` segment that holds a `=`. */
function countPairs(header: string): number {
  let pairs = 0;
  let from = 0;
  let eq = header.indexOf('=');
  while (eq !== -1) {
    let end = header.indexOf(';', from);
    if (end === -1) end = header.length;
    if (eq < end) {
      pairs++;
      if (end === header.length) break;
      eq = header.indexOf('=', end + 1);
    }
    from = end + 1;
  }
  return pairs;
}
