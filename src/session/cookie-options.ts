// The session cookie's options: its name and attributes, checked and serialised once at creation.
import { serialize } from 'cookie';
import {
  ConfigError,
  checkOptions,
  errorMessage,
  oneOfOption,
  optionError,
  optionNames,
} from '../core/index.js';

const WHERE = 'session';

/** Attributes of the session cookie. */
export interface SessionCookieOptions {
  /**
   * Hide the cookie from page scripts, so an XSS cannot read the session id.
   * @default true
   */
  httpOnly?: boolean;
  /**
   * The `SameSite` attribute. `'lax'` keeps the session on top-level navigations from other sites but not on
   * their cross-site POSTs or subresource requests. `'none'` requires `secure`. `false` omits the attribute.
   * @default 'lax'
   */
  sameSite?: 'lax' | 'strict' | 'none' | false;
  /**
   * The `Secure` attribute. `'auto'` sets it when the request is HTTPS as Express sees it (`req.secure`, which
   * follows the app's `trust proxy` setting behind a TLS-terminating proxy).
   * @default 'auto'
   */
  secure?: boolean | 'auto';
  /**
   * The cookie's `Path`.
   * @default '/'
   */
  path?: string;
  /**
   * The cookie's `Domain`. Leave it unset so the cookie goes only to the host that set it.
   * @default undefined
   */
  domain?: string;
}

/** The defaults of {@link SessionCookieOptions} (`domain` is unset). */
export const DEFAULT_COOKIE_OPTIONS = Object.freeze({
  httpOnly: true,
  sameSite: 'lax',
  secure: 'auto',
  path: '/',
} as const);

/** The cookie attributes every session shares (its lifetime and `Secure` are decided per request). */
export interface ResolvedCookieAttributes {
  readonly httpOnly: boolean;
  readonly sameSite: 'lax' | 'strict' | 'none' | false;
  readonly path: string;
  readonly domain: string | undefined;
}

const COOKIE_OPTION_NAMES = optionNames<SessionCookieOptions>({
  httpOnly: true,
  sameSite: true,
  secure: true,
  path: true,
  domain: true,
});

/** RFC 6265 cookie-name token. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The `cookieName` option: an RFC 6265 token. */
export function cookieNameOption(value: unknown): string {
  if (typeof value !== 'string' || !COOKIE_NAME.test(value)) {
    throw optionError('ERR_SESSION_COOKIE', WHERE, 'cookieName', "a cookie name token such as 'sid'", value);
  }
  return value;
}

/** The cookie option checked, and its attributes serialised once: the part of every Set-Cookie after the value. */
export function resolveCookie(
  value: unknown,
  name: string,
): { attributes: string; values: ResolvedCookieAttributes; secure: boolean | 'auto' } {
  const given = value ?? {};
  checkOptions<SessionCookieOptions>(given, COOKIE_OPTION_NAMES, `${WHERE} cookie`);
  const d = DEFAULT_COOKIE_OPTIONS;
  const httpOnly = oneOfOption(given.httpOnly ?? d.httpOnly, 'cookie.httpOnly', WHERE, [
    true,
    false,
  ] as const);
  const sameSite = oneOfOption(given.sameSite ?? d.sameSite, 'cookie.sameSite', WHERE, [
    'lax',
    'strict',
    'none',
    false,
  ] as const);
  const secure = oneOfOption(given.secure ?? d.secure, 'cookie.secure', WHERE, [
    true,
    false,
    'auto',
  ] as const);
  if (sameSite === 'none' && secure === false) {
    const requirement =
      "true or 'auto' with `cookie.sameSite: 'none'` (browsers drop such cookies otherwise)";
    throw optionError('ERR_SESSION_COOKIE', WHERE, 'cookie.secure', requirement, secure);
  }
  const path = given.path ?? d.path;
  const domain = given.domain;
  let serialized: string;
  try {
    serialized = serialize(name, 'v', {
      path,
      ...(domain === undefined ? {} : { domain }),
      httpOnly,
      ...(sameSite === false ? {} : { sameSite }),
    });
  } catch (error) {
    throw new ConfigError('ERR_SESSION_COOKIE', `${WHERE}: invalid cookie attribute: ${errorMessage(error)}`);
  }
  // Everything after `name=v` is static: built once here, appended to every Set-Cookie.
  return {
    attributes: serialized.slice(name.length + 2),
    values: Object.freeze({ httpOnly, sameSite, path, domain }),
    secure,
  };
}
