// The Redis side of the response cache: key names, and every call a request makes, within the cache's deadline.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createErrorReporter,
  hashTag,
  type Kept,
  MGET_BUFFERS,
  type RedisCaller,
  type RedisClient,
  type RedisErrorReporter,
  RedisUnavailableError,
  redisCaller,
  registerScript,
  ScriptBatcher,
  type ScriptRunner,
  TrackedReads,
} from '../redis/index.js';
import { NO_GENERATION } from './constants.js';
import { type DecodedEntry, KIND_ENTRY, KIND_MARKER, MARKER_VALUE, tryDecodeEntry } from './entry.js';
import { urlHash } from './key.js';
import type { ResolvedCacheConfig } from './options.js';
import { ENTRY_PUT, LOCK_RELEASE, TAG_ADD, URL_INVALIDATE } from './scripts.js';
import type { CacheCounters } from './types.js';

/** The fill lock and the invalidation state when a render begins. */
export type LockReply = [locked: boolean, generation: number, urlCount: string];

/** What a render read when it began: whether its entry may still be stored (see ENTRY_PUT in scripts.ts). */
export interface RenderStart {
  /** The fill lock's token when this render holds it. */
  readonly token: string | undefined;
  /** The invalidation generation read before the render began, or NO_GENERATION when Redis failed. */
  readonly generation: number;
  /** The URL's invalidation count read before the render began ('0' when never invalidated). */
  readonly urlCount: string;
  /** `performance.now()` when that generation was requested: the render's start for invalidation purposes. */
  readonly startedAt: number;
}

/** The Redis side of one cache: scripts registered once at creation, keys, and bounded calls. */
export class CacheStore {
  readonly redis: RedisClient;
  /** `<prefix><name>:`, the start of every key of this cache. */
  readonly keyBase: string;
  /** The cache's invalidation generation (raised by every tag invalidation). */
  readonly generationKey: string;
  /** How long invalidation records and tombstones live; renders longer than this are not stored. */
  readonly retentionMs: number;
  /** How much longer than its entries a tag set lives (covers the gap between adding the tag and the SET). */
  readonly tagMarginMs: number;
  /** TTL of a hit-for-miss marker. */
  readonly markerTtlMs: number;
  readonly #lockTimeoutMs: number;
  readonly #counters: CacheCounters;
  /** Reports a Redis error through the cache's logger, at most once per 10 s. */
  readonly report: RedisErrorReporter;
  readonly #caller: RedisCaller;
  readonly #entryPut: ScriptRunner<number>;
  readonly #lockRelease: ScriptRunner<number>;
  readonly #tagAdd: ScriptRunner<number>;
  readonly #urlInvalidate: ScriptRunner<number>;
  /** With `clientSideCaching`: fresh entries in memory, and how a request reads an entry key. */
  readonly #copies: TrackedReads<DecodedEntry> | undefined;
  readonly #readEntry: (key: string) => Promise<Buffer | null>;

  constructor(config: ResolvedCacheConfig, counters: CacheCounters) {
    const redis = config.redis;
    this.redis = redis;
    this.keyBase = config.keyBase;
    this.generationKey = `${config.keyBase}g`;
    this.retentionMs = Math.max(5 * 60_000, 2 * config.lockTimeoutMs);
    this.tagMarginMs = 60_000 + config.lockTimeoutMs;
    this.markerTtlMs = Math.min(config.ttlMs, 30_000);
    this.#lockTimeoutMs = config.lockTimeoutMs;
    this.#counters = counters;
    this.report = createErrorReporter(config.logger);
    this.#caller = redisCaller(redis, config.timeoutMs);
    this.#entryPut = registerScript(redis, ENTRY_PUT);
    this.#lockRelease = registerScript(redis, LOCK_RELEASE);
    this.#tagAdd = registerScript(redis, TAG_ADD);
    this.#urlInvalidate = registerScript(redis, URL_INVALIDATE);
    const caching = config.clientSideCaching;
    if (caching === undefined) {
      this.#copies = undefined;
      // The lookups of one turn of the event loop go to Redis as one MGET.
      const reads = new ScriptBatcher(redis, MGET_BUFFERS, [], this.#caller);
      this.#readEntry = (key) => reads.ask(key, undefined);
    } else {
      const copies = new TrackedReads<DecodedEntry>(redis, caching.maxBytes);
      const reader = copies.reader;
      const caller = redisCaller(reader, config.timeoutMs);
      this.#copies = copies;
      this.#readEntry = (key) => copies.read(key, () => caller.call(() => reader.getBuffer(key)), keepFresh);
    }
  }

  // --- keys --------------------------------------------------------------------------------------------

  entryKey(hash: string): string {
    return `${this.keyBase}e:${hash}`;
  }

  lockKey(hash: string): string {
    return `${this.keyBase}l:${hash}`;
  }

  /** The set of a URL's variant and private-scope entries, with its invalidation count (see scripts.ts). */
  variantSetKey(hash: string): string {
    return `${this.keyBase}u:${hash.slice(0, hash.indexOf('}') + 1)}`;
  }

  tagKeys(tag: string): [string, string] {
    const slot = hashTag(tag);
    return [`${this.keyBase}t:${slot}`, `${this.keyBase}i:${slot}`];
  }

  // --- a request's calls ----------------------------------------------------------------------------------

  /**
   * The value under an entry key: the one Redis call of a hit. After a timeout or a lost connection, calls on
   * this client (from every middleware) fail at once for a moment, so an outage costs one timeout, not one
   * per request.
   */
  read(hash: string): Promise<Buffer | null> {
    return this.#readEntry(this.entryKey(hash));
  }

  /**
   * The entry as kept in memory (with `clientSideCaching`) while it is fresh and nothing changed it: a hit
   * without a Redis call. Undefined when Redis must be asked.
   */
  copyOf(hash: string): DecodedEntry | undefined {
    return this.#copies?.get(this.entryKey(hash));
  }

  /**
   * Drops every kept entry of this cache: this instance's own invalidations are seen by its next request,
   * without waiting for Redis's message.
   */
  forgetCopies(): void {
    this.#copies?.forgetUnder(this.keyBase);
  }

  /** Closes the connections of `clientSideCaching`; nothing else holds a connection of its own. */
  async close(): Promise<void> {
    await this.#copies?.close();
  }

  /**
   * Takes the fill lock and reads the invalidation generation and the URL's invalidation count in one go
   * (three commands, sent together; lock and count share the URL's slot).
   */
  async lockAndGeneration(hash: string, token: string): Promise<LockReply> {
    const redis = this.redis;
    try {
      const [lock, generation, count] = await Promise.all([
        this.#caller.call(() => redis.set(this.lockKey(hash), token, 'PX', this.#lockTimeoutMs, 'NX')),
        this.#caller.call(() => redis.get(this.generationKey)),
        this.#caller.call(() => redis.hget(this.variantSetKey(hash), '!')),
      ]);
      return [lock === 'OK', parseGeneration(generation), count ?? '0'];
    } catch (error) {
      this.failed(error, 'lock');
      return [false, NO_GENERATION, '0'];
    }
  }

  /** The invalidation generation and the URL's invalidation count, for a render that takes no lock. */
  async readGeneration(hash: string): Promise<[generation: number, urlCount: string]> {
    const redis = this.redis;
    try {
      const [generation, count] = await Promise.all([
        this.#caller.call(() => redis.get(this.generationKey)),
        this.#caller.call(() => redis.hget(this.variantSetKey(hash), '!')),
      ]);
      return [parseGeneration(generation), count ?? '0'];
    } catch (error) {
      this.failed(error, 'generation');
      return [NO_GENERATION, '0'];
    }
  }

  /**
   * Waits for another instance's fill: polls (lock, then entry, in one pipeline on their shared slot) with
   * backoff until a fresh entry appears, the lock is gone, a marker says the URL is uncacheable, or
   * lockTimeout passes.
   */
  async waitForFill(hash: string): Promise<Buffer | undefined> {
    const entryKey = this.entryKey(hash);
    const lockKey = this.lockKey(hash);
    const deadline = Date.now() + this.#lockTimeoutMs;
    let delay = 10;
    while (Date.now() < deadline) {
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
      let replies: [Error | null, unknown][] | null;
      try {
        replies = await this.#caller.call(() =>
          this.redis.pipeline().exists(lockKey).getBuffer(entryKey).exec(),
        );
      } catch (error) {
        this.failed(error, 'wait');
        return undefined;
      }
      const held = replies?.[0]?.[1] === 1;
      const value = replies?.[1]?.[1];
      if (Buffer.isBuffer(value) && value.length > 0) {
        if (value[0] === KIND_MARKER) return undefined;
        if (value[0] === KIND_ENTRY) {
          const entry = tryDecodeEntry(value);
          if (entry !== undefined && Date.now() < entry.freshUntil) return value;
        }
      }
      if (!held) return undefined;
    }
    return undefined;
  }

  /**
   * Stores a packed entry with its tags for `pxMs`, unless an invalidation since the render began forbids it,
   * and releases the fill lock. True when stored; on false, nothing was stored and the lock is released.
   */
  async save(
    hash: string,
    packed: Buffer,
    tags: readonly string[],
    pxMs: number,
    start: RenderStart,
  ): Promise<boolean> {
    const { generation, token } = start;
    // Invalidation records may have expired since this render began: it cannot be proven current.
    if (this.#outlivedRetention(start.startedAt)) {
      this.release(hash, token, false);
      return false;
    }
    try {
      if (tags.length > 0) {
        const added = await Promise.all(
          tags.map((tag) =>
            this.#caller.call(() =>
              this.#tagAdd(this.tagKeys(tag), [hash, pxMs, generation, this.tagMarginMs]),
            ),
          ),
        );
        // A tag set must outlive the entry: give up if the SET would come too long after the tags' TTLs.
        if (added.some((a) => a !== 1) || this.#outlivedRetention(start.startedAt)) {
          this.release(hash, token, false);
          return false;
        }
      }
      const stored = await this.#changingEntry(hash, () =>
        this.#entryPut(
          [this.entryKey(hash), this.lockKey(hash), this.variantSetKey(hash)],
          [
            packed,
            pxMs,
            tags.length > 0 ? generation : -1,
            token ?? '',
            hash.slice(hash.indexOf('}') + 1),
            start.urlCount,
            this.tagMarginMs,
          ],
        ),
      );
      return stored === 1;
    } catch (error) {
      this.failed(error, 'store');
      this.release(hash, token, false);
      return false;
    }
  }

  /** Releases the fill lock (when held) and optionally leaves a hit-for-miss marker; errors are only reported. */
  release(hash: string, token: string | undefined, marker: boolean): void {
    if (token === undefined && !marker) return;
    this.#caller
      .call(() =>
        this.#lockRelease(
          [this.lockKey(hash), this.entryKey(hash)],
          [token ?? '', marker ? MARKER_VALUE : '', this.markerTtlMs],
        ),
      )
      .catch((error: unknown) => this.failed(error, 'unlock'));
  }

  /** Removes every entry (all variants and private scopes) of each cache key; one script per key's slot. */
  async invalidateUrls(keys: readonly string[]): Promise<number> {
    const counts = await Promise.all(
      keys.map((key) => {
        const tag = `{${urlHash(key)}}`;
        const plain = this.entryKey(tag);
        const invalidate = () =>
          this.#caller.call(() =>
            this.#urlInvalidate([this.variantSetKey(tag), plain], [plain, this.retentionMs]),
          );
        // Every variant's entry key starts with the plain entry's.
        return this.#copies === undefined ? invalidate() : this.#copies.changingUnder(plain, invalidate);
      }),
    );
    let removed = 0;
    for (const n of counts) removed += n;
    return removed;
  }

  /** Counts and reports a failed call (at most once per 10 s). */
  failed(error: unknown, operation: string): void {
    // A call refused without asking Redis (known to be unreachable) was already counted when it failed.
    if (error instanceof RedisUnavailableError) return;
    this.#counters.errors++;
    this.report(error, `responseCache ${operation}`);
  }

  /** A write of an entry (its copy: see TrackedReads.changing). */
  #changingEntry<T>(hash: string, call: () => Promise<T>): Promise<T> {
    const copies = this.#copies;
    return copies === undefined
      ? this.#caller.call(call)
      : copies.changing(this.entryKey(hash), () => this.#caller.call(call));
  }

  #outlivedRetention(startedAt: number): boolean {
    return performance.now() - startedAt > this.retentionMs * 0.9;
  }
}

function parseGeneration(value: string | null): number {
  const n = value === null ? 0 : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** What a read through the tracked connection keeps: a decoded entry, while it is fresh, weighed in bytes. */
function keepFresh(buf: Buffer | null): Kept<DecodedEntry> | undefined {
  if (buf === null || buf[0] !== KIND_ENTRY) return undefined;
  const entry = tryDecodeEntry(buf);
  if (entry === undefined) return undefined;
  const freshMs = entry.freshUntil - Date.now();
  return freshMs > 0 ? { value: entry, until: performance.now() + freshMs, weight: buf.length } : undefined;
}
