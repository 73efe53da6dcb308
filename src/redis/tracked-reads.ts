// Values read from Redis kept in process memory, coherent through Redis server-assisted client-side caching:
// Redis remembers which keys our reading connection has read and tells our listening connection the moment any
// of them changes, so the copy is dropped before another request can use it.
import type { Redis, RedisOptions } from 'ioredis';
import { clientKeyPrefix, duplicateClient, type RedisClient } from './client.js';

/** Where Redis sends invalidations of tracked keys. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/** What a caller keeps of a read: the value, and the local `performance.now()` time from which it is not served. */
export interface Kept<V> {
  readonly value: V;
  readonly until: number;
  /** What the copy counts against the capacity (e.g. its bytes); 1 when not given. */
  readonly weight?: number;
}

/**
 * Copies of values read from Redis, served from memory until Redis says the key changed or the caller's own
 * deadline for the copy passes. Coherence rests on three rules:
 * - a copy is kept only from a read made on {@link reader} while tracking was known to be on, and only when
 *   no invalidation of that key arrived while the read was in flight;
 * - every invalidation drops its keys, and a flush (or the loss of either connection) drops every copy and
 *   stops serving until tracking is on again;
 * - no copy is served past the `until` its caller gave it, which bounds how long an invalidation lost without
 *   either connection noticing could matter.
 * Single Redis (and Sentinel) clients only: a Cluster would need a pair of connections per master.
 */
export class TrackedReads<V> {
  /** The connection reads run on; Redis tracks the keys it reads. */
  readonly reader: Redis;
  readonly #listener: Redis;
  /** The most the kept copies may weigh together. */
  readonly #capacity: number;
  #weight = 0;
  readonly #keyPrefix: string;
  readonly #copies = new Map<string, Kept<V>>();
  /** Keys with a read in flight, and whether an invalidation of the key arrived meanwhile. */
  readonly #inFlight = new Map<string, { reads: number; invalidated: boolean }>();
  /** True while the reader's tracking is known to redirect to the listener's current connection. */
  #tracking = false;
  /** Bumped whenever either connection is lost: a read started before cannot be kept. */
  #generation = 0;
  #closed = false;
  /** The listener's client id while it is subscribed to invalidations. */
  #listenerId: string | undefined;

  /** @param capacity the most the copies may weigh together: a count of copies, unless they say their weight */
  constructor(redis: RedisClient, capacity: number) {
    this.#capacity = capacity;
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

  /** The copy of `key`, or undefined when Redis must be asked. */
  get(key: string): V | undefined {
    if (!this.#tracking) return undefined;
    const copy = this.#copies.get(key);
    if (copy === undefined) return undefined;
    if (performance.now() >= copy.until) {
      this.#drop(key);
      return undefined;
    }
    return copy.value;
  }

  /**
   * Runs `read` (a read of `key` on {@link reader}) and, when coherence allows, keeps what `keep` makes of its
   * answer (nothing when it returns undefined).
   */
  async read<R>(key: string, read: () => Promise<R>, keep: (answer: R) => Kept<V> | undefined): Promise<R> {
    const generation = this.#generation;
    const tracked = this.#tracking;
    let flight = this.#inFlight.get(key);
    if (flight === undefined) {
      flight = { reads: 0, invalidated: false };
      this.#inFlight.set(key, flight);
    }
    flight.reads += 1;
    try {
      const answer = await read();
      if (tracked && this.#tracking && generation === this.#generation && !flight.invalidated) {
        const kept = keep(answer);
        if (kept !== undefined && kept.until > performance.now()) this.#keep(key, kept);
      }
      return answer;
    } finally {
      flight.reads -= 1;
      if (flight.reads === 0) this.#inFlight.delete(key);
    }
  }

  /** Drops the copy of a key this process is about to change (its own writes run on another connection). */
  forget(key: string): void {
    this.#drop(key);
    const flight = this.#inFlight.get(key);
    if (flight !== undefined) flight.invalidated = true;
  }

  /** Drops the copies of every key that starts with `prefix` (e.g. before changing keys it cannot name). */
  forgetUnder(prefix: string): void {
    for (const key of this.#copies.keys()) {
      if (key.startsWith(prefix)) this.forget(key);
    }
    for (const [key, flight] of this.#inFlight) {
      if (key.startsWith(prefix)) flight.invalidated = true;
    }
  }

  /**
   * Runs `change`, a write by this process to `key` (on another connection than the reader's), dropping the
   * copy before it (no request is served it meanwhile) and after it (a read that raced the write may have kept
   * the old value; Redis's invalidation would drop it too, but this process sees its own write at once).
   */
  async changing<T>(key: string, change: () => Promise<T>): Promise<T> {
    this.forget(key);
    try {
      return await change();
    } finally {
      this.forget(key);
    }
  }

  /** {@link changing} for a write to keys this process cannot name, all starting with `prefix`. */
  async changingUnder<T>(prefix: string, change: () => Promise<T>): Promise<T> {
    this.forgetUnder(prefix);
    try {
      return await change();
    } finally {
      this.forgetUnder(prefix);
    }
  }

  /** Closes both connections; copies are no longer kept or served. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#lost();
    await Promise.all([quit(this.reader), quit(this.#listener)]);
  }

  #keep(key: string, kept: Kept<V>): void {
    const weight = kept.weight ?? 1;
    if (weight > this.#capacity) return;
    this.#drop(key);
    // The oldest copies make room first: a Map keeps insertion order.
    for (const oldest of this.#copies.keys()) {
      if (this.#weight + weight <= this.#capacity) break;
      this.#drop(oldest);
    }
    this.#copies.set(key, kept);
    this.#weight += weight;
  }

  #drop(key: string): void {
    const copy = this.#copies.get(key);
    if (copy === undefined) return;
    this.#copies.delete(key);
    this.#weight -= copy.weight ?? 1;
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
    this.#weight = 0;
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

async function quit(connection: Redis): Promise<void> {
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
