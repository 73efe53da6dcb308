// Copies of returning visitors' sessions in process memory, kept coherent by Redis server-assisted client-side
// caching: Redis remembers which session keys our reading connection has read, and tells our listening
// connection the moment any of them changes, so the copy is dropped before another request can use it.
import type { Redis, RedisOptions } from 'ioredis';
import { clientKeyPrefix, duplicateClient, type RedisClient } from '../redis/index.js';
import type { ReadReply } from './store.js';

/** Where Redis sends invalidations of tracked keys. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

interface Copy {
  readonly fields: string[];
  /** Local monotonic time (ms) at which the session expires in Redis if nothing slides it. */
  readonly expiresAt: number;
  /** Local time from which a read must go to Redis again, to slide the idle timeout (`touchAfter`). */
  readonly touchDue: number;
}

/** The copies' settings, from the session options. */
export interface TrackedCopiesConfig {
  readonly maxSessions: number;
  readonly idleMs: number;
  readonly touchAfterMs: number;
}

/**
 * Serves a session read from memory while Redis would not slide it (within `touchAfter` of its last slide)
 * and nothing has changed it. Coherence rests on three rules:
 * - a copy is kept only from a read made on the tracked connection while tracking was known to be on, and
 *   only when no invalidation of that key arrived while the read was in flight;
 * - every invalidation drops its keys, and a flush (or the loss of either connection) drops every copy and
 *   stops serving until tracking is on again;
 * - no copy is served past its `touchDue`, so even an invalidation lost without either connection noticing
 *   cannot keep a changed session alive for longer than `touchAfter`.
 */
export class TrackedCopies {
  /** The connection session reads run on; Redis tracks the keys it reads. */
  readonly reader: Redis;
  readonly #listener: Redis;
  readonly #config: TrackedCopiesConfig;
  readonly #keyPrefix: string;
  readonly #copies = new Map<string, Copy>();
  /** Keys with a read in flight, and whether an invalidation of the key arrived meanwhile. */
  readonly #inFlight = new Map<string, { reads: number; invalidated: boolean }>();
  /** True while the reader's tracking is known to redirect to the listener's current connection. */
  #tracking = false;
  /** Bumped whenever either connection is lost: a read started before cannot be kept. */
  #generation = 0;
  #closed = false;
  /** The listener's client id while it is subscribed to invalidations. */
  #listenerId: string | undefined;

  constructor(redis: RedisClient, config: TrackedCopiesConfig) {
    this.#config = config;
    this.#keyPrefix = clientKeyPrefix(redis);
    this.reader = duplicateClient(redis) as Redis;
    // Resubscribing is ours to do: the listener's client id must be read before it enters subscribe mode.
    // RESP2, where invalidations arrive as Pub/Sub messages: ioredis 6 speaks RESP3 by default and drops the
    // RESP3 push frame they arrive in; ioredis 5 speaks only RESP2 and ignores the option.
    this.#listener = (redis as Redis).duplicate({ autoResubscribe: false, protocol: 2 } as RedisOptions);
    // A new listener connection has a new id and no subscription.
    this.#listener.on('close', () => {
      this.#listenerId = undefined;
    });
    for (const connection of [this.reader, this.#listener]) {
      if (connection.status === 'wait') connection.connect().catch(() => {});
      connection.on('close', () => this.#lost());
      connection.on('ready', () => void this.#startTracking());
      // A connection error is followed by 'close'; listening here keeps ioredis from logging it as unhandled.
      connection.on('error', () => {});
    }
    this.#listener.on('messageBuffer', (channel: Buffer, keys: Buffer[] | Buffer | null) => {
      if (channel.toString() === INVALIDATE_CHANNEL) this.#invalidate(keys);
    });
  }

  /** The session read as Redis would answer it without sliding it, or undefined when Redis must be asked. */
  get(key: string): ReadReply | undefined {
    if (!this.#tracking) return undefined;
    const copy = this.#copies.get(key);
    if (copy === undefined) return undefined;
    const now = performance.now();
    if (now >= copy.touchDue || now >= copy.expiresAt) {
      this.#copies.delete(key);
      return undefined;
    }
    return [Math.floor(copy.expiresAt - now), 0, copy.fields];
  }

  /**
   * Runs `read` (a session read on {@link reader}) and keeps its answer when coherence allows. `life` is the
   * session's own idle timeout field when set (`@m`), else the configured one applies.
   */
  async read(key: string, read: () => Promise<ReadReply>): Promise<ReadReply> {
    const generation = this.#generation;
    const tracked = this.#tracking;
    let flight = this.#inFlight.get(key);
    if (flight === undefined) {
      flight = { reads: 0, invalidated: false };
      this.#inFlight.set(key, flight);
    }
    flight.reads += 1;
    try {
      const reply = await read();
      if (tracked && this.#tracking && generation === this.#generation && !flight.invalidated) {
        this.#keep(key, reply);
      }
      return reply;
    } finally {
      flight.reads -= 1;
      if (flight.reads === 0) this.#inFlight.delete(key);
    }
  }

  /** Drops the copy of a session this process is about to change (its own writes run on another connection). */
  forget(key: string): void {
    this.#copies.delete(key);
    const flight = this.#inFlight.get(key);
    if (flight !== undefined) flight.invalidated = true;
  }

  /** Drops the copies of every session under one key prefix (a user's sessions, before revoking them all). */
  forgetUnder(prefix: string): void {
    for (const key of this.#copies.keys()) {
      if (key.startsWith(prefix)) this.forget(key);
    }
    for (const [key, flight] of this.#inFlight) {
      if (key.startsWith(prefix)) flight.invalidated = true;
    }
  }

  /** Closes both connections; copies are no longer kept or served. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#lost();
    await Promise.all([quit(this.reader), quit(this.#listener)]);
  }

  #keep(key: string, reply: ReadReply): void {
    if (reply === null) return;
    const [ttlMs, touched, fields] = reply;
    if (!(ttlMs > 0)) return;
    const now = performance.now();
    // How long ago Redis last slid the session: now when this read slid it; otherwise its idle timeout minus
    // what is left of it (an over-estimate when the absolute deadline caps the expiry, which only shortens
    // how long the copy is served).
    const sinceSlide = touched === 1 ? 0 : Math.max(0, idleOf(fields, this.#config.idleMs) - ttlMs);
    const touchDue = now + this.#config.touchAfterMs - sinceSlide;
    if (touchDue <= now) return;
    const copies = this.#copies;
    copies.delete(key);
    if (copies.size >= this.#config.maxSessions) {
      // The oldest copy goes first: Map keeps insertion order.
      const oldest = copies.keys().next().value;
      if (oldest !== undefined) copies.delete(oldest);
    }
    copies.set(key, { fields, expiresAt: now + ttlMs, touchDue });
  }

  #invalidate(keys: Buffer[] | Buffer | null): void {
    // A null payload means Redis flushed its tracking table (FLUSHALL, or the table hit its size limit).
    if (keys === null || !Array.isArray(keys)) {
      this.#dropAll();
      return;
    }
    const prefixLength = this.#keyPrefix.length;
    for (const raw of keys) {
      const key = raw.toString().slice(prefixLength);
      this.forget(key);
    }
  }

  /** Either connection went away: nothing tracked before can be trusted any more. */
  #lost(): void {
    this.#tracking = false;
    this.#dropAll();
  }

  #dropAll(): void {
    this.#generation += 1;
    this.#copies.clear();
    for (const flight of this.#inFlight.values()) flight.invalidated = true;
  }

  /** Once both connections are up: subscribe the listener, then point the reader's tracking at it. */
  async #startTracking(): Promise<void> {
    if (this.#closed || this.reader.status !== 'ready' || this.#listener.status !== 'ready') return;
    const generation = this.#generation;
    try {
      if (this.#listenerId === undefined) {
        this.#listenerId = String(await this.#listener.client('ID'));
        await this.#listener.subscribe(INVALIDATE_CHANNEL);
      }
      await this.reader.client('TRACKING', 'ON', 'REDIRECT', this.#listenerId, 'NOLOOP');
      if (generation === this.#generation && !this.#closed) this.#tracking = true;
    } catch {
      // Left off: reads go to Redis until the next reconnection sets tracking up again.
    }
  }
}

/** The idle timeout a session slides by: its own (`@m`, set by `cookie.maxAge`) or the configured one. */
function idleOf(fields: readonly string[], idleMs: number): number {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === '@m') {
      const life = Number(fields[i + 1]);
      return life > 0 ? life : idleMs;
    }
  }
  return idleMs;
}

async function quit(connection: Redis): Promise<void> {
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
