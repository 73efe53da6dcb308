// The object behind `req.session`: data as own properties, the API on its prototype, state in a private field.
import { SessionError } from './errors.js';
import type { RequestSession } from './request-session.js';
import type { KeepOptions, SessionCallback, SessionCookie, SessionMethods, SignInOptions } from './types.js';

/** Where `req.sessionID` finds the id of a session object (shared by every copy of this library). */
export const SESSION_ID = Symbol.for('express-redis-kit.session-id');

/**
 * `req.session`. Its own enumerable properties are exactly the session data (so `Object.keys`, `for...in` and
 * `JSON.stringify` see only data); the API lives on the prototype and the state in a private field.
 *
 * Each method that express-session also has takes its callback form (`save(cb)`, `regenerate(cb)`, ...), which
 * returns the session as express-session does; without a callback it returns a promise.
 */
export class SessionObject implements SessionMethods {
  readonly #state: RequestSession;

  constructor(state: RequestSession) {
    this.#state = state;
  }

  get id(): string {
    return this.#state.ensureId();
  }

  get handle(): string {
    this.#state.ensureId();
    return (this.#state.location as { handle: string }).handle;
  }

  get userId(): string | undefined {
    return this.#state.userId;
  }

  get isNew(): boolean {
    return !this.#state.stored;
  }

  get cookie(): SessionCookie {
    return this.#state.cookie();
  }

  [SESSION_ID](): string {
    return this.#state.ensureId();
  }

  async signIn(userId: string | number, options?: SignInOptions): Promise<void> {
    return this.#state.signIn(userId, keepOption(options, true), options?.maxAge);
  }

  async signOut(options?: KeepOptions): Promise<void> {
    return this.#state.signOut(keepOption(options, false));
  }

  regenerate(options?: KeepOptions): Promise<void>;
  regenerate(callback: SessionCallback): this;
  regenerate(arg?: KeepOptions | SessionCallback): Promise<void> | this {
    const state = this.#state;
    if (typeof arg === 'function') {
      state.settle(state.replace(), arg);
      return this;
    }
    try {
      return state.regenerate(keepOption(arg, true));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  destroy(): Promise<void>;
  destroy(callback: SessionCallback): this;
  destroy(callback?: SessionCallback): Promise<void> | this {
    const state = this.#state;
    if (typeof callback === 'function') {
      state.settle(state.destroy(true), callback);
      return this;
    }
    return state.destroy(false);
  }

  save(): Promise<void>;
  save(callback: SessionCallback): this;
  save(callback?: SessionCallback): Promise<void> | this {
    const state = this.#state;
    if (typeof callback === 'function') {
      state.settle(state.save(), callback);
      return this;
    }
    return state.save();
  }

  reload(): Promise<void>;
  reload(callback: SessionCallback): this;
  reload(callback?: SessionCallback): Promise<void> | this {
    const state = this.#state;
    if (typeof callback === 'function') {
      state.settle(state.reload(), callback);
      return this;
    }
    return state.reload();
  }

  touch(): this {
    this.#state.touch();
    return this;
  }
}

/**
 * The API's names cannot become data keys: assigning one (`req.session.cookie = ...`, `req.session.save = ...`)
 * throws instead of silently shadowing the API or being left unsaved. Methods become getters for this, set up
 * once here, so a request pays nothing for it.
 */
for (const name of Object.getOwnPropertyNames(SessionObject.prototype)) {
  if (name === 'constructor') continue;
  const descriptor = Object.getOwnPropertyDescriptor(SessionObject.prototype, name) as PropertyDescriptor;
  const method: unknown = descriptor.value;
  Object.defineProperty(SessionObject.prototype, name, {
    configurable: true,
    enumerable: false,
    get: typeof method === 'function' ? () => method : descriptor.get,
    set() {
      throw new SessionError(
        'ERR_SESSION_RESERVED_KEY',
        `\`req.session.${name}\` is part of the session's API, not data: store your value under another key.`,
      );
    },
  });
}

function keepOption(options: KeepOptions | undefined, fallback: boolean): boolean | readonly string[] {
  const keep = options?.keep;
  if (keep === undefined) return fallback;
  if (typeof keep === 'boolean') return keep;
  if (Array.isArray(keep) && keep.every((k) => typeof k === 'string')) return keep;
  throw new TypeError('session: `keep` must be true, false or an array of data keys.');
}
