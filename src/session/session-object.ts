// The object behind `req.session`: data as own properties, the API on its prototype, state in a private field.
import type { RequestSession } from './request-session.js';
import type { KeepOptions, SessionMethods } from './types.js';

/**
 * `req.session`. Its own enumerable properties are exactly the session data (so `Object.keys` and
 * `JSON.stringify` see only data); the API lives on the prototype and the state in a private field.
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

  async signIn(userId: string | number, options?: KeepOptions): Promise<void> {
    return this.#state.signIn(userId, keepOption(options, true));
  }

  async signOut(options?: KeepOptions): Promise<void> {
    return this.#state.signOut(keepOption(options, false));
  }

  async regenerate(options?: KeepOptions): Promise<void> {
    return this.#state.regenerate(keepOption(options, true));
  }

  async destroy(): Promise<void> {
    return this.#state.destroy();
  }

  async save(): Promise<void> {
    return this.#state.save();
  }
}

function keepOption(options: KeepOptions | undefined, fallback: boolean): boolean | readonly string[] {
  const keep = options?.keep;
  if (keep === undefined) return fallback;
  if (typeof keep === 'boolean') return keep;
  if (Array.isArray(keep) && keep.every((k) => typeof k === 'string')) return keep;
  throw new TypeError('session: `keep` must be true, false or an array of data keys.');
}
