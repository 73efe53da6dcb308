// `req.session.cookie`: the session cookie as express-session presents it, built on first use.
import { SessionError } from './errors.js';
import type { RequestSession } from './request-session.js';
import type { SessionCookie } from './types.js';

/**
 * A view of one request's session cookie. It holds no copy of the state: its lifetime lives in the request's
 * session (and in Redis as the `@m` field), its other attributes in the middleware's options.
 */
export class SessionCookieView implements SessionCookie {
  readonly #state: RequestSession;

  constructor(state: RequestSession) {
    this.#state = state;
  }

  get maxAge(): number | null {
    const at = this.#state.cookieExpiresAt();
    return at === null ? null : at - Date.now();
  }

  set maxAge(value: number | null | undefined) {
    if (value === null || value === undefined) {
      this.#state.setLifetime(null);
      return;
    }
    this.#state.setLifetime(value);
  }

  get expires(): Date | null {
    const at = this.#state.cookieExpiresAt();
    return at === null ? null : new Date(at);
  }

  set expires(value: Date | null | false | undefined) {
    if (value === null || value === undefined || value === false) {
      this.#state.setLifetime(null);
      return;
    }
    if (!(value instanceof Date)) {
      throw new SessionError(
        'ERR_SESSION_MAX_AGE',
        '`req.session.cookie.expires` takes a Date, or null/false for a browser-session cookie.',
      );
    }
    this.#state.setLifetime(value.getTime() - Date.now());
  }

  get originalMaxAge(): number | null {
    return this.#state.lifetime() === null ? null : this.#state.idleMs();
  }

  get httpOnly(): boolean {
    return this.#state.ctx.config.cookie.httpOnly;
  }

  get secure(): boolean {
    const { secure } = this.#state.ctx.config;
    return secure === 'auto' ? this.#state.req.secure : secure;
  }

  get sameSite(): 'lax' | 'strict' | 'none' | false {
    return this.#state.ctx.config.cookie.sameSite;
  }

  get path(): string {
    return this.#state.ctx.config.cookie.path;
  }

  get domain(): string | undefined {
    return this.#state.ctx.config.cookie.domain;
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
