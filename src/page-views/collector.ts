// Counts views in process and writes them to Redis once per interval, exactly once, surviving outages.
import { createHash, hash, randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { errorMessage } from '../core/index.js';
import {
  keyPart,
  type RedisErrorReporter,
  type ScriptRunner,
  type VariadicRunner,
  withDeadline,
} from '../redis/index.js';
import { type Batch, emptyBatch, mergeBatches, type RouteTally, tallyView } from './batch.js';
import { type Chunk, ChunkBuilder } from './chunks.js';
import { OTHER_ROUTE } from './include.js';
import type { PageViewKeys } from './keys.js';
import type { ResolvedPageViewsConfig } from './options.js';
import { type Granularity, periodEndMs, periodOfDay } from './periods.js';

/** Lifetime of a chunk's marker when no later flush deletes it (the instance stopped). */
const MARKER_TTL_MS = 86_400_000;
/** Salts outlive their period by this much, so late writes of the period (after an outage) reuse them. */
const SALT_GRACE_MS = 2 * 86_400_000;
/** Chunks sent in one pipeline; a backlog after an outage goes out in several round trips of this size. */
const CHUNKS_PER_PIPELINE = 16;
/** How many top routes the live summary lists. */
export const LIVE_TOP_ROUTES = 20;
/** Visitor hashes computed between two yields to the event loop, so a large flush never stalls requests. */
const HASHES_PER_SLICE = 2_000;
/** Visitor hashes kept per period salt between flushes; a visitor seen again needs no new hash. */
const HASHES_KEPT_PER_SALT = 20_000;
/** Route names outlive the longest counter that may refer to them. */
const NAME_EXTRA_MS = 400 * 86_400_000;

/** A keyed hash of a visitor: SHA-256 of `salt + raw` (the salt has a fixed length), 66 bits in base64url. */
const visitorHash: (salt: string, raw: string) => string =
  typeof hash === 'function'
    ? (salt, raw) => hash('sha256', salt + raw, 'base64url').slice(0, 11)
    : (salt, raw) => createHash('sha256').update(salt).update(raw).digest('base64url').slice(0, 11);

/** The Redis calls the collector makes, registered once by the factory. */
export interface CollectorScripts {
  readonly flush: VariadicRunner<number>;
  readonly live: VariadicRunner<string>;
  readonly salt: ScriptRunner<string>;
}

/** A batch waiting to be written: raw (visitors not yet hashed) or prepared into chunks. */
interface PendingItem {
  batches: Batch[] | undefined;
  chunks: Chunk[] | undefined;
  entries: number;
  views: number;
  /** The live summary to publish with the item's first write. */
  summary: string | undefined;
}

/** Counters for `views.stats()`. */
export interface CollectorStats {
  /** Entries (route tallies and visitors) counted but not yet written. */
  readonly bufferedEntries: number;
  /** Views counted but not yet written. */
  readonly bufferedViews: number;
  /** Views dropped because Redis stayed unreachable while the buffer was full. */
  readonly droppedViews: number;
  /** Flush pipelines that reached Redis. */
  readonly flushes: number;
}

export class Collector {
  private buffer: Batch = emptyBatch();
  private pending: PendingItem[] = [];
  private confirmed: string[] = [];
  private readonly salts = new Map<string, { salt: string; until: number }>();
  /**
   * Per period salt, visitor → hash, kept across flushes (bounded): most visitors come back within a period,
   * and hashing is most of a flush's work. Only in memory, like the visitors of the current batch.
   */
  private readonly visitorHashes = new Map<string, Map<string, string>>();
  private readonly routeKeys = new Map<string, string>();
  /** The distinct route keys of today (views, script URLs and beacons): at most `maxRoutes`. */
  private readonly keysToday = new Set<string>();
  private today: Map<string, RouteTally> | undefined;
  private day = '';
  private minuteEnd = 0;
  private running: Promise<void> | undefined;
  private inflight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushSoon = false;
  private chunkSeq = 0;
  private droppedViews = 0;
  private flushes = 0;
  private dropWarnedAt = 0;
  private dropUnwarned = { views: 0, batches: 0 };
  private readonly sealAt: number;
  private readonly liveMinutes: number;

  constructor(
    private readonly config: ResolvedPageViewsConfig,
    private readonly keys: PageViewKeys,
    private readonly scripts: CollectorScripts,
    private readonly report: RedisErrorReporter,
    readonly instance: string,
  ) {
    // Seal well before the bound, so one busy interval is never what gets dropped.
    this.sealAt = Math.max(1, Math.floor(config.maxBuffer / 4));
    this.liveMinutes = Math.ceil(config.liveWindowMs / 60_000);
  }

  /** Starts the flush timer (unref'd: it never keeps the process alive). */
  start(): void {
    this.timer = setInterval(this.tick, this.config.flushIntervalMs);
    this.timer.unref();
  }

  /** Counts one view now. The request hot path: a few Map operations, no Redis, no hashing. */
  add(route: string, visitor: string | undefined): void {
    const now = Date.now();
    if (now >= this.minuteEnd) this.advance(now);
    let routes = this.today;
    if (routes === undefined) {
      routes = new Map();
      this.buffer.days.set(this.day, routes);
      this.today = routes;
    }
    this.buffer.entries += tallyView(routes, this.routeKey(route), visitor);
    this.buffer.views += 1;
    if (this.buffer.entries >= this.sealAt) this.requestFlush();
  }

  /** Counts one view at any instant (the slow path of `views.record()`). */
  addAt(route: string, visitor: string | undefined, at: number): void {
    const now = Date.now();
    if (now >= this.minuteEnd) this.advance(now);
    const day = this.config.clock.dayOf(at);
    let routes = this.buffer.days.get(day);
    if (routes === undefined) {
      routes = new Map();
      this.buffer.days.set(day, routes);
      if (day === this.day) this.today = routes;
    }
    this.buffer.entries += tallyView(routes, this.routeKey(route), visitor);
    this.buffer.views += 1;
    if (this.buffer.entries >= this.sealAt) this.requestFlush();
  }

  /** Writes everything counted so far; rejects (keeping the data for a retry) when Redis fails. */
  async flush(): Promise<void> {
    this.seal(Date.now());
    do await this.drain();
    while (this.pending.length > 0);
  }

  /** Stops the timer and writes everything; later calls to `flush()` may retry if this rejects. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  stats(): CollectorStats {
    let entries = this.buffer.entries;
    let views = this.buffer.views;
    for (const item of this.pending) {
      entries += item.entries;
      views += item.views;
    }
    return {
      bufferedEntries: Math.round(entries),
      bufferedViews: views,
      droppedViews: this.droppedViews,
      flushes: this.flushes,
    };
  }

  /** The keys of the live window ending now: visitor HLLs first, then route→views hashes. */
  liveKeys(now: number): string[] {
    const minute = Math.floor(now / 60_000);
    const keys: string[] = [];
    for (let i = this.liveMinutes - 1; i >= 0; i--) keys.push(this.keys.liveVisitors(minute - i));
    for (let i = this.liveMinutes - 1; i >= 0; i--) keys.push(this.keys.liveViews(minute - i));
    return keys;
  }

  /** Arguments of the live script after the keys. */
  liveArgs(channel: string, summary: string): (string | number)[] {
    return [this.liveMinutes, channel, summary, LIVE_TOP_ROUTES, this.config.liveWindowMs];
  }

  private readonly tick = (): void => {
    this.flushSoon = false;
    this.seal(Date.now());
    if (this.pending.length > 0 && this.running === undefined) {
      this.drain().catch((error: unknown) => this.report(error, 'pageViews flush'));
    }
  };

  private requestFlush(): void {
    if (this.flushSoon) return;
    this.flushSoon = true;
    setImmediate(this.tick);
  }

  private advance(now: number): void {
    this.minuteEnd = (Math.floor(now / 60_000) + 1) * 60_000;
    const day = this.config.clock.dayOf(now);
    if (day !== this.day) {
      this.day = day;
      this.today = this.buffer.days.get(day);
      // maxRoutes counts distinct routes per day
      this.routeKeys.clear();
      this.keysToday.clear();
    }
  }

  /**
   * The field a route is counted under: its key, or `(other)` beyond `maxRoutes` distinct routes today. The
   * script URLs and beacons use it too, so no path to Redis can add fields past the cap.
   */
  routeKey(route: string): string {
    let key = this.routeKeys.get(route);
    if (key === undefined) {
      key = this.foldRouteKey(keyPart(route));
      if (key === OTHER_ROUTE) return key;
      this.routeKeys.set(route, key);
      if (key !== route) this.buffer.names.set(key, route.slice(0, 1_000));
    }
    return key;
  }

  /** A route key (e.g. from a signed script URL or a beacon token) folded into `(other)` beyond the cap. */
  foldRouteKey(key: string): string {
    const known = this.keysToday;
    if (known.has(key)) return key;
    if (known.size >= this.config.maxRoutes) return OTHER_ROUTE;
    known.add(key);
    return key;
  }

  private seal(now: number): void {
    if (this.buffer.views === 0) return;
    const batch = this.buffer;
    batch.sealedAt = now;
    this.buffer = emptyBatch();
    this.today = undefined;
    const last = this.pending[this.pending.length - 1];
    if (last?.batches !== undefined) {
      last.batches.push(batch);
      last.entries += batch.entries;
      last.views += batch.views;
    } else {
      this.pending.push({
        batches: [batch],
        chunks: undefined,
        entries: batch.entries,
        views: batch.views,
        summary: undefined,
      });
    }
    this.enforceBound(now);
  }

  /** Drops the oldest unsent batches while the buffer is over `maxBuffer`, warning at most every 10 s. */
  private enforceBound(now: number): void {
    let total = 0;
    for (const item of this.pending) total += item.entries;
    while (total > this.config.maxBuffer && this.pending.length > 0) {
      const oldest = this.pending[0] as PendingItem;
      if (oldest.batches !== undefined && oldest.batches.length > 1) {
        const batch = oldest.batches.shift() as Batch;
        oldest.entries -= batch.entries;
        oldest.views -= batch.views;
        total -= batch.entries;
        this.dropped(batch.views);
      } else if (this.pending.length > 1) {
        this.pending.shift();
        total -= oldest.entries;
        this.dropped(oldest.views);
      } else {
        break;
      }
    }
    if (this.dropUnwarned.batches > 0 && now - this.dropWarnedAt >= 10_000) {
      this.dropWarnedAt = now;
      this.config.logger.warn(
        'pageViews: Redis is unreachable and the buffer is full; dropped the oldest unsent views',
        {
          droppedViews: this.dropUnwarned.views,
          batches: this.dropUnwarned.batches,
          maxBuffer: this.config.maxBuffer,
        },
      );
      this.dropUnwarned = { views: 0, batches: 0 };
    }
  }

  private dropped(views: number): void {
    this.droppedViews += views;
    this.dropUnwarned.views += views;
    this.dropUnwarned.batches += 1;
  }

  private drain(): Promise<void> {
    if (this.running === undefined) {
      this.running = this.sendPending().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async sendPending(): Promise<void> {
    while (this.pending.length > 0) {
      // Never stack a second pipeline behind one whose outcome is unknown (it may still run).
      if (this.inflight !== undefined) await withDeadline(this.inflight, this.config.timeoutMs);
      const first = this.pending[0] as PendingItem;
      if (first.chunks === undefined) await this.prepare(first);
      const chunks: Chunk[] = [];
      const owners: PendingItem[] = [];
      let summary: string | undefined;
      for (const item of this.pending) {
        if (item.chunks === undefined) break;
        if (item.summary !== undefined && summary === undefined) {
          summary = item.summary;
          item.summary = undefined;
        }
        for (const chunk of item.chunks) {
          if (chunks.length === CHUNKS_PER_PIPELINE) break;
          chunks.push(chunk);
          owners.push(item);
        }
        if (chunks.length === CHUNKS_PER_PIPELINE) break;
      }
      await this.send(chunks, owners, summary);
    }
  }

  private async send(
    chunks: readonly Chunk[],
    owners: readonly PendingItem[],
    summary?: string,
  ): Promise<void> {
    const pipeline = this.config.redis.pipeline();
    const deletes = this.confirmed.splice(0, 256);
    chunks.forEach((chunk, i) => {
      const dels = i === 0 ? deletes : [];
      this.scripts.flush.queue(
        pipeline,
        [this.keys.marker(chunk.id)].concat(
          dels.map((id) => this.keys.marker(id)),
          chunk.keys,
        ),
        [MARKER_TTL_MS, dels.length].concat(chunk.args as number[]),
      );
    });
    if (summary !== undefined) {
      const now = Date.now();
      this.scripts.live.queue(pipeline, this.liveKeys(now), this.liveArgs(this.keys.channel, summary));
    }
    const settled = pipeline.exec().then(
      (results) => this.settle(chunks, owners, deletes, results ?? []),
      (error: unknown) => {
        this.confirmed.unshift(...deletes);
        throw error;
      },
    );
    const inflight = settled.then(
      () => undefined,
      () => undefined,
    );
    this.inflight = inflight;
    inflight.finally(() => {
      if (this.inflight === inflight) this.inflight = undefined;
    });
    await withDeadline(settled, this.config.timeoutMs);
  }

  /** Applies a pipeline's replies: written chunks leave the queue; throws the first chunk error. */
  private settle(
    chunks: readonly Chunk[],
    owners: readonly PendingItem[],
    deletes: readonly string[],
    results: [Error | null, unknown][],
  ): void {
    this.flushes += 1;
    let failure: unknown;
    chunks.forEach((chunk, i) => {
      const [error] = results[i] ?? [new Error('no reply')];
      if (error) {
        failure ??= error;
        if (i === 0) this.confirmed.unshift(...deletes);
        return;
      }
      this.confirmed.push(chunk.id);
      const owner = owners[i] as PendingItem;
      const list = owner.chunks ?? [];
      const index = list.indexOf(chunk);
      if (index >= 0) {
        list.splice(index, 1);
        owner.views -= chunk.views;
        owner.entries -= chunk.entries;
      }
    });
    this.pending = this.pending.filter((item) => item.chunks === undefined || item.chunks.length > 0);
    const liveReply = results[chunks.length];
    if (liveReply?.[0]) this.report(liveReply[0], 'pageViews live summary');
    if (failure !== undefined) throw failure;
  }

  /** Hashes the visitors of the oldest raw batches (merged) with their period salts and cuts the chunks. */
  private async prepare(item: PendingItem): Promise<void> {
    // Detached while hashing, so seal() starts a new item instead of adding to batches already merged.
    const batches = item.batches ?? [];
    item.batches = undefined;
    try {
      await this.prepareChunks(item, batches);
    } catch (error) {
      item.batches = batches;
      throw error;
    }
  }

  private async prepareChunks(item: PendingItem, batches: Batch[]): Promise<void> {
    const now = Date.now();
    const today = this.config.clock.dayOf(now);
    const liveSince = now - this.config.liveWindowMs;
    const liveDays = new Set([today, this.config.clock.dayOf(liveSince)]);
    const { batch, liveViews, liveVisitors } = mergeBatches(batches, liveSince, liveDays);
    const grans = this.config.granularities;

    const wanted = new Map<string, { granularity: Granularity; period: string }>();
    for (const day of batch.days.keys()) {
      for (const g of grans) {
        const period = periodOfDay(day, g);
        wanted.set(this.keys.salt(g, period), { granularity: g, period });
      }
    }
    if (liveVisitors.size > 0)
      wanted.set(this.keys.salt('day', today), { granularity: 'day', period: today });
    await this.ensureSalts(wanted, now);

    let work = 0;

    const builder = new ChunkBuilder(() => `${this.instance}.${(++this.chunkSeq).toString(36)}`);
    const periodCaches = this.visitorHashes;
    // Salts of periods that are over are never asked for again: drop their hashes.
    for (const saltKey of periodCaches.keys()) if (!this.salts.has(saltKey)) periodCaches.delete(saltKey);
    for (const [day, routes] of batch.days) {
      let dayViews = 0;
      for (const g of grans) {
        const period = periodOfDay(day, g);
        const expireAt = Math.ceil((periodEndMs(period, g) + this.config.retentionMs[g]) / 1000);
        if (expireAt * 1000 <= now) continue;
        const saltKey = this.keys.salt(g, period);
        const salt = this.salts.get(saltKey)?.salt as string;
        let cache = periodCaches.get(saltKey);
        if (cache === undefined || cache.size >= HASHES_KEPT_PER_SALT) {
          cache = new Map();
          periodCaches.set(saltKey, cache);
        }
        const pairs: (string | number)[] = [];
        const site = new Set<string>();
        for (const [routeKey, tally] of routes) {
          pairs.push(routeKey, tally.views);
          if (tally.visitors.size === 0) continue;
          const hashes: string[] = [];
          for (const raw of tally.visitors) {
            let h = cache.get(raw);
            if (h === undefined) {
              h = visitorHash(salt, raw);
              cache.set(raw, h);
              if (++work % HASHES_PER_SLICE === 0) await yieldToEventLoop();
            }
            hashes.push(h);
            site.add(h);
          }
          builder.add(this.keys.uniques(g, period, routeKey), 'p', expireAt, hashes);
        }
        builder.add(this.keys.views(g, period), 'h', expireAt, pairs);
        if (site.size > 0) builder.add(this.keys.uniques(g, period), 'p', expireAt, [...site]);
      }
      for (const tally of routes.values()) dayViews += tally.views;
      builder.countViews(dayViews);
    }
    if (batch.names.size > 0) {
      const maxRetention = Math.max(...grans.map((g) => this.config.retentionMs[g]));
      const pairs: string[] = [];
      for (const [key, name] of batch.names) pairs.push(key, name);
      builder.add(this.keys.routeNames, 's', Math.ceil((now + maxRetention + NAME_EXTRA_MS) / 1000), pairs);
    }
    if (liveViews.size > 0) {
      const minute = Math.floor(now / 60_000);
      const expireAt = Math.ceil(((minute + 1) * 60_000 + this.config.liveWindowMs + 60_000) / 1000);
      const pairs: (string | number)[] = [];
      for (const [routeKey, views] of liveViews) pairs.push(routeKey, views);
      builder.add(this.keys.liveViews(minute), 'h', expireAt, pairs);
      if (liveVisitors.size > 0) {
        const saltKey = this.keys.salt('day', today);
        const salt = this.salts.get(saltKey)?.salt as string;
        const cache = periodCaches.get(saltKey) ?? new Map<string, string>();
        const hashes: string[] = [];
        for (const raw of liveVisitors) {
          let h = cache.get(raw);
          if (h === undefined) {
            h = visitorHash(salt, raw);
            if (++work % HASHES_PER_SLICE === 0) await yieldToEventLoop();
          }
          hashes.push(h);
        }
        builder.add(this.keys.liveVisitors(minute), 'p', expireAt, hashes);
      }
    }

    let total = 0;
    for (const views of liveViews.values()) total += views;
    item.summary =
      liveViews.size > 0
        ? JSON.stringify({
            type: 'summary',
            at: now,
            instance: this.instance,
            views: Object.fromEntries(liveViews),
            total,
          })
        : undefined;
    item.chunks = builder.chunks;
    // each chunk carries its share of the item's entries, so the buffer bound shrinks as chunks are written
    for (const chunk of item.chunks) chunk.entries = item.entries / item.chunks.length;
    if (item.chunks.length === 0) {
      // Everything was past its retention: nothing to write.
      this.pending = this.pending.filter((other) => other !== item);
    }
  }

  /** Loads (or creates) the salts of the given periods that are not cached yet; one round trip at most. */
  private async ensureSalts(
    wanted: Map<string, { granularity: Granularity; period: string }>,
    now: number,
  ): Promise<void> {
    for (const [key, entry] of this.salts) if (entry.until < now) this.salts.delete(key);
    const missing = [...wanted].filter(([key]) => !this.salts.has(key));
    if (missing.length === 0) return;
    const loads = missing.map(([key, { granularity, period }]) => {
      const until = periodEndMs(period, granularity) + SALT_GRACE_MS;
      return this.scripts.salt([key], [randomBytes(16).toString('base64url'), until]).then((salt) => {
        if (typeof salt !== 'string' || salt.length === 0) throw new Error(`bad salt reply for ${key}`);
        this.salts.set(key, { salt, until });
      });
    });
    try {
      await withDeadline(Promise.all(loads), this.config.timeoutMs);
    } catch (error) {
      for (const load of loads) load.catch(() => {});
      throw new Error(`pageViews: could not load visitor salts: ${errorMessage(error)}`);
    }
  }
}
