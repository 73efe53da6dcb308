// The object behind `req.session`: data as own properties, the API on its prototype, state in a private field.
import { SessionError } from './errors.js';
import { keptView } from './fields.js';
import { normalizeUserId } from './ids.js';
import { destroy, type Keep, regenerate, reload, replace, save, signIn } from './methods.js';
import type { SessionController } from './session-controller.js';
import { isStored } from './state.js';
import type { KeepOptions, SessionCallback, SessionCookie, SessionMethods, SignInOptions } from './types.js';

/** Where `req.sessionID` finds the id of a session object (shared by every copy of this library). */
export const SESSION_ID = Symbol.for('express-redis-kit.session-id');

/**
 * `req.session`. Its own enumerable properties are exactly the session data (so `Object.keys`, `for...in` and
 * `JSON.stringify` see only data); the API lives on the prototype and the request's controller in a private
 * field.
 *
 * Each method that express-session also has takes its callback form (`save(cb)`, `regenerate(cb)`, ...), which
 * returns the session as express-session does; without a callback it returns a promise.
 */
export class ReqSession implements SessionMethods {
  readonly #controller: SessionController;

  constructor(controller: SessionController) {
    this.#controller = controller;
  }

  get id(): string {
    return this.#controller.ensureId();
  }

  get handle(): string {
    this.#controller.ensureId();
    return (this.#controller.location as { handle: string }).handle;
  }

  get userId(): string | undefined {
    return this.#controller.userId;
  }

  get isNew(): boolean {
    return !isStored(this.#controller.state);
  }

  get cookie(): SessionCookie {
    return this.#controller.cookie();
  }

  [SESSION_ID](): string {
    return this.#controller.ensureId();
  }

  async signIn(userId: string | number, options?: SignInOptions): Promise<void> {
    const c = this.#controller;
    const keep = keepOption(options, true);
    const uid = normalizeUserId(userId);
    const maxAge = options?.maxAge;
    const lifetime = maxAge === undefined ? c.lifetime() : maxAge === null ? null : c.checkLifetime(maxAge);
    return c.run('sign in', true, signIn, uid, keep, lifetime);
  }

  async signOut(options?: KeepOptions): Promise<void> {
    const c = this.#controller;
    const keep = keepOption(options, false);
    const kept = keep === false ? undefined : { ...keptView(c.object, keep) };
    await c.run('destroy the session', false, destroy, false);
    if (kept !== undefined) Object.assign(c.object, kept);
  }

  regenerate(options?: KeepOptions): Promise<void>;
  regenerate(callback: SessionCallback): this;
  regenerate(arg?: KeepOptions | SessionCallback): Promise<void> | this {
    const c = this.#controller;
    if (typeof arg === 'function') {
      c.settle(c.run('regenerate the session', true, replace), arg);
      return this;
    }
    try {
      return c.run('regenerate the session', true, regenerate, keepOption(arg, true));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  destroy(): Promise<void>;
  destroy(callback: SessionCallback): this;
  destroy(callback?: SessionCallback): Promise<void> | this {
    const c = this.#controller;
    if (typeof callback === 'function') {
      c.settle(c.run('destroy the session', false, destroy, true), callback);
      return this;
    }
    return c.run('destroy the session', false, destroy, false);
  }

  save(): Promise<void>;
  save(callback: SessionCallback): this;
  save(callback?: SessionCallback): Promise<void> | this {
    const c = this.#controller;
    if (typeof callback === 'function') {
      c.settle(c.run('save the session', false, save), callback);
      return this;
    }
    return c.run('save the session', false, save);
  }

  reload(): Promise<void>;
  reload(callback: SessionCallback): this;
  reload(callback?: SessionCallback): Promise<void> | this {
    const c = this.#controller;
    if (typeof callback === 'function') {
      c.settle(c.run('reload the session', false, reload), callback);
      return this;
    }
    return c.run('reload the session', false, reload);
  }

  touch(): this {
    this.#controller.touch();
    return this;
  }
}

/**
 * The API's names cannot become data keys: assigning one (`req.session.cookie = ...`, `req.session.save = ...`)
 * throws instead of silently shadowing the API or being left unsaved. Methods become getters for this, set up
 * once here, so a request pays nothing for it.
 */
for (const name of Object.getOwnPropertyNames(ReqSession.prototype)) {
  if (name === 'constructor') continue;
  const descriptor = Object.getOwnPropertyDescriptor(ReqSession.prototype, name) as PropertyDescriptor;
  const method: unknown = descriptor.value;
  Object.defineProperty(ReqSession.prototype, name, {
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

function keepOption(options: KeepOptions | undefined, fallback: boolean): Keep {
  const keep = options?.keep;
  if (keep === undefined) return fallback;
  if (typeof keep === 'boolean') return keep;
  if (Array.isArray(keep) && keep.every((k) => typeof k === 'string')) return keep;
  throw new TypeError('session: `keep` must be true, false or an array of data keys.');
}
