// Redis operations on sessions: key names, and each script call bounded by the middleware's deadline.
import {
  hashTag,
  type RedisCaller,
  redisCaller,
  registerScript,
  ScriptBatcher,
  type ScriptRunner,
} from '../redis/index.js';
import { handleOf } from './ids.js';
import type { ResolvedSessionConfig } from './options.js';
import {
  SESSION_CREATE,
  SESSION_END,
  SESSION_END_ALL,
  SESSION_JOIN,
  SESSION_LIST,
  SESSION_READ,
  SESSION_UPDATE,
} from './scripts.js';
import { SessionCopies } from './session-copies.js';

type Result<S> = S extends { readonly __result?: infer R } ? R : never;
type Runner<S> = ScriptRunner<Result<S>>;

/** Where a session lives in Redis. */
export interface SessionLocation {
  readonly key: string;
  readonly handle: string;
  /** The user tag of a signed-in session (its hash tag), undefined for an anonymous one. */
  readonly tag: string | undefined;
}

/**
 * What a read answers: null when there is no such session, else its remaining lifetime (ms), whether this
 * read slid it (1) or not (0), and its raw hash fields. Left as the script sent it (see `BatchReplies`): the
 * read is the hot path.
 */
export type ReadReply = [ttlMs: number, touched: number, fields: string[]] | null;

/** What creating a session stored: its remaining lifetime and its timestamps (Redis clock). */
export interface CreateResult {
  readonly ttlMs: number;
  readonly created: number;
  readonly absolute: number;
}

/** A signed-in session to create in its user's slot (see {@link SessionStore.join}). */
export interface JoinRequest {
  /** Its data and meta fields, as field/value pairs. */
  readonly pairs: readonly string[];
  /** How long it lives without use. */
  readonly idleMs: number;
  /** Timestamps carried over from the session it renews; without them Redis's clock starts new ones. */
  readonly created?: number;
  readonly absolute?: number;
  /** A session in the same slot that the new one replaces: ended in the same call. */
  readonly replaces?: SessionLocation | undefined;
  /** Fail with 'gone' instead of going on when `replaces` has already ended (a renewal must not revive it). */
  readonly replacedMustExist?: boolean;
}

/** A user's session as the list script reports it. */
export interface ListedSession {
  readonly handle: string;
  readonly created: number;
  readonly lastSeen: number;
  readonly expires: number;
  readonly userAgent: string | undefined;
  readonly ip: string | undefined;
}

/** The Redis side of one middleware instance: scripts registered once at creation. */
export class SessionStore {
  readonly #config: ResolvedSessionConfig;
  /** Reads of one turn of the event loop go to Redis in one script call. */
  readonly #reads: ScriptBatcher<ReadReply>;
  /** Writes of one turn of the event loop go in one script call too. */
  readonly #updates: ScriptBatcher<number>;
  readonly #create: Runner<typeof SESSION_CREATE>;
  readonly #join: Runner<typeof SESSION_JOIN>;
  readonly #end: Runner<typeof SESSION_END>;
  readonly #list: Runner<typeof SESSION_LIST>;
  readonly #endAll: Runner<typeof SESSION_END_ALL>;
  readonly #caller: RedisCaller;
  /** With `clientSideCaching`: the copies (the reads then go through their tracked connection). */
  readonly #copies: SessionCopies | undefined;
  readonly #trackedRead: (key: string) => Promise<ReadReply>;

  constructor(config: ResolvedSessionConfig) {
    this.#config = config;
    const { redis } = config;
    this.#create = registerScript(redis, SESSION_CREATE);
    this.#join = registerScript(redis, SESSION_JOIN);
    this.#end = registerScript(redis, SESSION_END);
    this.#list = registerScript(redis, SESSION_LIST);
    this.#endAll = registerScript(redis, SESSION_END_ALL);
    const readArgs = [config.idleMs, config.touchAfterMs];
    this.#caller = redisCaller(redis, config.timeoutMs);
    this.#updates = new ScriptBatcher(redis, SESSION_UPDATE, [], this.#caller);
    const caching = config.clientSideCaching;
    if (caching === undefined) {
      this.#copies = undefined;
      this.#reads = new ScriptBatcher(redis, SESSION_READ, readArgs, this.#caller);
      this.#trackedRead = (key) => this.#reads.ask(key, undefined);
    } else {
      const copies = new SessionCopies(config, caching.maxSessions);
      const { reader } = copies.reads;
      this.#copies = copies;
      this.#reads = new ScriptBatcher(reader, SESSION_READ, readArgs, redisCaller(reader, config.timeoutMs));
      this.#trackedRead = (key) => copies.reads.read(key, () => this.#reads.ask(key, undefined), copies.keep);
    }
  }

  /** `sess:<handle>` for an anonymous session, `sess:{<tag>}:<handle>` for a signed-in one. */
  sessionKey(handle: string, tag: string | undefined): string {
    return tag === undefined
      ? this.#config.prefix + handle
      : `${this.#config.prefix}${hashTag(tag)}:${handle}`;
  }

  /** Where the session of `id` lives (`tag`: the user tag of a signed-in session's id). */
  locate(id: string, tag: string | undefined): SessionLocation {
    const handle = handleOf(id);
    return { key: this.sessionKey(handle, tag), handle, tag };
  }

  /** `sess:{<tag>}:index`: the user's sorted set of session handles, in the same slot as their sessions. */
  indexKey(tag: string): string {
    return `${this.#config.prefix}${hashTag(tag)}:index`;
  }

  /**
   * The session as it is in memory (with `clientSideCaching`), when a read would not slide it and nothing has
   * changed it since: no Redis call at all. Undefined when Redis must be asked.
   */
  copyOf(key: string): ReadReply | undefined {
    return this.#copies?.get(key);
  }

  /** Loads a session and slides its idle timeout: the one Redis call of a read-only request. */
  read(key: string): Promise<ReadReply> {
    return this.#trackedRead(key);
  }

  /** {@link read} for the request's hot path: callbacks instead of a promise when no copy is involved. */
  readThen(key: string, done: (reply: ReadReply) => void, failed: (error: unknown) => void): void {
    if (this.#copies === undefined) this.#reads.call(key, undefined, done, failed);
    else this.#trackedRead(key).then(done, failed);
  }

  /** Closes the connections of `clientSideCaching`; nothing else holds a connection of its own. */
  async close(): Promise<void> {
    await this.#copies?.reads.close();
  }

  /** Creates an anonymous session (never overwrites) that lives `idleMs` past its last use. Null when the key exists. */
  async create(
    key: string,
    created: number,
    absolute: number,
    pairs: readonly string[],
    idleMs: number,
  ): Promise<CreateResult | null> {
    const c = this.#config;
    const reply = await this.#changing(key, () =>
      this.#create([key], [idleMs, c.absoluteMs, created, absolute, ...pairs]),
    );
    return reply === null ? null : createResult(reply);
  }

  /**
   * Writes changed fields if the session still exists; with `retimeMs` > 0 its expiry is also set to that long
   * from now (capped by its absolute deadline). False when it is gone.
   */
  async update(
    key: string,
    pairs: readonly string[],
    deletions: readonly string[],
    retimeMs = 0,
  ): Promise<boolean> {
    const args = [
      String(retimeMs),
      String(pairs.length / 2),
      String(deletions.length),
      ...pairs,
      ...deletions,
    ];
    // The batcher bounds its calls by the deadline itself.
    const reply = await this.#whileChanging(key, () => this.#updates.ask(key, args));
    return reply === 1;
  }

  /**
   * Creates a signed-in session at `at` (in its user's slot) and indexes it, ending the session it replaces in
   * the same call. 'gone' or 'taken' on failure.
   */
  async join(at: SessionLocation, session: JoinRequest): Promise<CreateResult | 'gone' | 'taken'> {
    const c = this.#config;
    const tag = at.tag as string;
    const { replaces } = session;
    const endReplaced = replaces === undefined ? 0 : session.replacedMustExist === true ? 2 : 1;
    // The replaced session ends in the same call; its copy goes now (Redis's invalidation follows).
    if (replaces !== undefined) this.#copies?.reads.forget(replaces.key);
    const reply = await this.#changing(at.key, () =>
      this.#join(
        [at.key, this.indexKey(tag), replaces?.key ?? at.key],
        [
          session.idleMs,
          c.absoluteMs,
          session.created ?? 0,
          session.absolute ?? 0,
          c.maxSessionsPerUser,
          at.handle,
          endReplaced,
          replaces?.handle ?? '',
          ...session.pairs,
        ],
      ),
    );
    if (reply === 0) return 'gone';
    if (reply === 1) return 'taken';
    return createResult(reply);
  }

  /**
   * Ends one session (and removes it from its user's index). With `userId`, only a session of that user.
   * True when a session was ended.
   */
  async end(at: SessionLocation, userId = ''): Promise<boolean> {
    const tag = at.tag;
    if (tag === undefined) {
      return (await this.#changing(at.key, () => this.#config.redis.del(at.key))) === 1;
    }
    const reply = await this.#changing(at.key, () =>
      this.#end([at.key, this.indexKey(tag)], [at.handle, userId]),
    );
    return reply === 1;
  }

  /** The live sessions of `userId` under one user tag. */
  async list(tag: string, userId: string): Promise<ListedSession[]> {
    const reply = await this.#bounded(() => this.#list([this.indexKey(tag)], [userId]));
    const now = Number(reply[0]);
    const sessions: ListedSession[] = [];
    for (let i = 1; i + 5 < reply.length; i += 6) {
      sessions.push({
        handle: String(reply[i]),
        created: Number(reply[i + 1]),
        lastSeen: Number(reply[i + 2]),
        expires: now + Number(reply[i + 5]),
        userAgent: optionalString(reply[i + 3]),
        ip: optionalString(reply[i + 4]),
      });
    }
    return sessions;
  }

  /** Ends every session of `userId` under one user tag except `keep`. Returns how many ended. */
  async endAll(tag: string, userId: string, keep: string): Promise<number> {
    const endAll = () => this.#bounded(() => this.#endAll([this.indexKey(tag)], [userId, keep]));
    const copies = this.#copies;
    if (copies === undefined) return endAll();
    // The user's session keys share the prefix and hash tag of their index.
    return copies.reads.changingUnder(`${this.#config.prefix}${hashTag(tag)}:`, endAll);
  }

  /** A call that changes the session at `key` (its copy: see TrackedReads.changing). */
  #changing<T>(key: string, call: () => Promise<T>): Promise<T> {
    return this.#whileChanging(key, () => this.#bounded(call));
  }

  /** Runs `call`, already bounded, as a change of the session at `key` (its copy: see TrackedReads.changing). */
  #whileChanging<T>(key: string, call: () => Promise<T>): Promise<T> {
    const copies = this.#copies;
    return copies === undefined ? call() : copies.reads.changing(key, call);
  }

  #bounded<T>(call: () => Promise<T>): Promise<T> {
    return this.#caller.call(call);
  }
}

function createResult(reply: [number, number, number]): CreateResult {
  return { ttlMs: Number(reply[0]), created: Number(reply[1]), absolute: Number(reply[2]) };
}

function optionalString(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}
