// The session cookie of one request: `req.session.cookie` as express-session presents it, and its Set-Cookie.
import { browserCookieValue, clearCookieValue, setCookieValue, signId } from './cookie.js';
import { SessionError } from './errors.js';
import type { SessionController } from './session-controller.js';
import { isStored } from './state.js';
import type { SessionCookie } from './types.js';

/**
 * A view of one request's session cookie. It holds no copy of the state: its lifetime lives in the request's
 * session (and in Redis as the `@m` field), its other attributes in the middleware's options.
 */
export class SessionCookieView implements SessionCookie {
  readonly #controller: SessionController;

  constructor(controller: SessionController) {
    this.#controller = controller;
  }

  get maxAge(): number | null {
    const at = this.#controller.cookieExpiresAt();
    return at === null ? null : at - Date.now();
  }

  set maxAge(value: number | null | undefined) {
    if (value === null || value === undefined) {
      this.#controller.setLifetime(null);
      return;
    }
    this.#controller.setLifetime(value);
  }

  get expires(): Date | null {
    const at = this.#controller.cookieExpiresAt();
    return at === null ? null : new Date(at);
  }

  set expires(value: Date | null | false | undefined) {
    if (value === null || value === undefined || value === false) {
      this.#controller.setLifetime(null);
      return;
    }
    if (!(value instanceof Date)) {
      throw new SessionError(
        'ERR_SESSION_MAX_AGE',
        '`req.session.cookie.expires` takes a Date, or null/false for a browser-session cookie.',
      );
    }
    this.#controller.setLifetime(value.getTime() - Date.now());
  }

  get originalMaxAge(): number | null {
    return this.#controller.lifetime() === null ? null : this.#controller.idleMs();
  }

  get httpOnly(): boolean {
    return this.#controller.ctx.config.cookie.httpOnly;
  }

  get secure(): boolean {
    const { secure } = this.#controller.ctx.config;
    return secure === 'auto' ? this.#controller.req.secure : secure;
  }

  get sameSite(): 'lax' | 'strict' | 'none' | false {
    return this.#controller.ctx.config.cookie.sameSite;
  }

  get path(): string {
    return this.#controller.ctx.config.cookie.path;
  }

  get domain(): string | undefined {
    return this.#controller.ctx.config.cookie.domain;
  }

  /** What `JSON.stringify(req.session.cookie)` shows (express-session's shape). */
  toJSON(): Record<string, unknown> {
    return {
      originalMaxAge: this.originalMaxAge,
      expires: this.expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
    };
  }
}

for (const name of ['originalMaxAge', 'httpOnly', 'secure', 'sameSite', 'path', 'domain'] as const) {
  const descriptor = Object.getOwnPropertyDescriptor(SessionCookieView.prototype, name) as PropertyDescriptor;
  Object.defineProperty(SessionCookieView.prototype, name, {
    ...descriptor,
    set() {
      throw new SessionError(
        'ERR_SESSION_COOKIE_ATTRIBUTE',
        name === 'originalMaxAge'
          ? '`req.session.cookie.originalMaxAge` is read-only: set `req.session.cookie.maxAge` instead.'
          : `\`req.session.cookie.${name}\` is the same for every session: set it in the \`cookie.${name}\` ` +
              'option of session().',
      );
    },
  });
}

/** Adds the session's Set-Cookie to the response about to go out: the session's cookie, one that clears it, or none. */
export function setSessionCookie(c: SessionController, headers: unknown): void {
  const { config } = c.ctx;
  let value: string;
  if (isStored(c.state) && c.cookieTtl >= 0 && c.id !== undefined) {
    const signed = signedValue(c, c.id);
    value =
      c.lifetime() === null
        ? browserCookieValue(config.cookieName, signed, config.cookieAttributes, isSecure(c))
        : setCookieValue(config.cookieName, signed, c.cookieTtl, config.cookieAttributes, isSecure(c));
  } else if (!isStored(c.state) && c.clearCookie) {
    value = clearCookieValue(config.cookieName, config.cookieAttributes, isSecure(c));
  } else {
    return;
  }
  // `res.writeHead(status, { 'Set-Cookie': ... })` would replace a header set before it: join that one.
  if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) {
    const record = headers as Record<string, unknown>;
    for (const name of Object.keys(record)) {
      if (name.toLowerCase() !== 'set-cookie') continue;
      const current = record[name];
      record[name] = [...(Array.isArray(current) ? current : current === undefined ? [] : [current]), value];
      return;
    }
  }
  // What `res.append` does, without its generic steps: most responses carry no other Set-Cookie.
  const res = c.res;
  const prior = res.getHeader('set-cookie');
  if (!prior) res.setHeader('Set-Cookie', value);
  else res.setHeader('Set-Cookie', (Array.isArray(prior) ? prior : [prior]).map(String).concat(value));
}

/** Whether the cookie gets `Secure` (asked only when one is sent: `req.secure` costs Express some work). */
function isSecure(c: SessionController): boolean {
  const { secure } = c.ctx.config;
  return secure === 'auto' ? c.req.secure : secure;
}

/** The signed cookie value of `id`, signed once per id. */
function signedValue(c: SessionController, id: string): string {
  if (c.signed?.id === id) return c.signed.value;
  const value = signId(id, c.ctx.config.signKeys[0] as Buffer);
  c.signed = { id, value };
  return value;
}
