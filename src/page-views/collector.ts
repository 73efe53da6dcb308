// Counts views in process and writes them to Redis once per interval, exactly once, surviving outages.
import type { RedisErrorReporter } from '../redis/index.js';
import { keyPart } from '../redis/index.js';
import { type Batch, emptyBatch, type RouteTally, tallyView } from './batch.js';
import type { Chunk } from './chunks.js';
import { OTHER_ROUTE } from './include.js';
import type { ResolvedPageViewsConfig } from './options.js';
import type { ChunkPreparer } from './prepare.js';
import type { Visitor } from './visitors.js';
import type { ChunkWriter } from './writer.js';

/** Chunks sent in one pipeline; a backlog after an outage goes out in several round trips of this size. */
const CHUNKS_PER_PIPELINE = 16;

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
  readonly #config: ResolvedPageViewsConfig;
  readonly #preparer: ChunkPreparer;
  readonly #writer: ChunkWriter;
  readonly #report: RedisErrorReporter;
  #buffer: Batch = emptyBatch();
  #pending: PendingItem[] = [];
  readonly #routeKeys = new Map<string, string>();
  /** The distinct route keys of today (views, script URLs and beacons): at most `maxRoutes`. */
  readonly #keysToday = new Set<string>();
  #today: Map<string, RouteTally> | undefined;
  #day = '';
  #minuteEnd = 0;
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushSoon = false;
  #droppedViews = 0;
  #dropWarnedAt = 0;
  #dropUnwarned = { views: 0, batches: 0 };
  readonly #sealAt: number;

  constructor(
    config: ResolvedPageViewsConfig,
    preparer: ChunkPreparer,
    writer: ChunkWriter,
    report: RedisErrorReporter,
  ) {
    this.#config = config;
    this.#preparer = preparer;
    this.#writer = writer;
    this.#report = report;
    // Seal well before the bound, so one busy interval is never what gets dropped.
    this.#sealAt = Math.max(1, Math.floor(config.maxBuffer / 4));
  }

  /** Starts the flush timer (unref'd: it never keeps the process alive). */
  start(): void {
    this.#timer = setInterval(this.#tick, this.#config.flushIntervalMs);
    this.#timer.unref();
  }

  /** Counts one view now. The request hot path: a few Map operations, no Redis, no hashing. */
  add(route: string, visitor: Visitor | undefined): void {
    const now = Date.now();
    if (now >= this.#minuteEnd) this.#advance(now);
    let routes = this.#today;
    if (routes === undefined) {
      routes = new Map();
      this.#buffer.days.set(this.#day, routes);
      this.#today = routes;
    }
    this.#buffer.entries += tallyView(routes, this.routeKey(route), visitor);
    this.#buffer.views += 1;
    if (this.#buffer.entries >= this.#sealAt) this.#requestFlush();
  }

  /** Counts one view at any instant (the slow path of `views.record()`). */
  addAt(route: string, visitor: Visitor | undefined, at: number): void {
    const now = Date.now();
    if (now >= this.#minuteEnd) this.#advance(now);
    const day = this.#config.clock.dayOf(at);
    let routes = this.#buffer.days.get(day);
    if (routes === undefined) {
      routes = new Map();
      this.#buffer.days.set(day, routes);
      if (day === this.#day) this.#today = routes;
    }
    this.#buffer.entries += tallyView(routes, this.routeKey(route), visitor);
    this.#buffer.views += 1;
    if (this.#buffer.entries >= this.#sealAt) this.#requestFlush();
  }

  /** Writes everything counted so far; rejects (keeping the data for a retry) when Redis fails. */
  async flush(): Promise<void> {
    this.#seal(Date.now());
    do await this.#drain();
    while (this.#pending.length > 0);
  }

  /** Stops the timer and writes everything; later calls to `flush()` may retry if this rejects. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  stats(): CollectorStats {
    let entries = this.#buffer.entries;
    let views = this.#buffer.views;
    for (const item of this.#pending) {
      entries += item.entries;
      views += item.views;
    }
    return {
      bufferedEntries: Math.round(entries),
      bufferedViews: views,
      droppedViews: this.#droppedViews,
      flushes: this.#writer.flushes,
    };
  }

  /**
   * The field a route is counted under: its key, or `(other)` beyond `maxRoutes` distinct routes today. The
   * script URLs and beacons use it too, so no path to Redis can add fields past the cap.
   */
  routeKey(route: string): string {
    let key = this.#routeKeys.get(route);
    if (key === undefined) {
      key = this.foldRouteKey(keyPart(route));
      if (key === OTHER_ROUTE) return key;
      this.#routeKeys.set(route, key);
      if (key !== route) this.#buffer.names.set(key, route.slice(0, 1_000));
    }
    return key;
  }

  /** A route key (e.g. from a signed script URL or a beacon token) folded into `(other)` beyond the cap. */
  foldRouteKey(key: string): string {
    const known = this.#keysToday;
    if (known.has(key)) return key;
    if (known.size >= this.#config.maxRoutes) return OTHER_ROUTE;
    known.add(key);
    return key;
  }

  readonly #tick = (): void => {
    this.#flushSoon = false;
    this.#seal(Date.now());
    if (this.#pending.length > 0 && this.#running === undefined) {
      this.#drain().catch((error: unknown) => this.#report(error, 'pageViews flush'));
    }
  };

  #requestFlush(): void {
    if (this.#flushSoon) return;
    this.#flushSoon = true;
    setImmediate(this.#tick);
  }

  #advance(now: number): void {
    this.#minuteEnd = (Math.floor(now / 60_000) + 1) * 60_000;
    const day = this.#config.clock.dayOf(now);
    if (day !== this.#day) {
      this.#day = day;
      this.#today = this.#buffer.days.get(day);
      // maxRoutes counts distinct routes per day
      this.#routeKeys.clear();
      this.#keysToday.clear();
    }
  }

  #seal(now: number): void {
    if (this.#buffer.views === 0) return;
    const batch = this.#buffer;
    batch.sealedAt = now;
    this.#buffer = emptyBatch();
    this.#today = undefined;
    const last = this.#pending[this.#pending.length - 1];
    if (last?.batches !== undefined) {
      last.batches.push(batch);
      last.entries += batch.entries;
      last.views += batch.views;
    } else {
      this.#pending.push({
        batches: [batch],
        chunks: undefined,
        entries: batch.entries,
        views: batch.views,
        summary: undefined,
      });
    }
    this.#enforceBound(now);
  }

  /** Drops the oldest unsent batches while the buffer is over `maxBuffer`, warning at most every 10 s. */
  #enforceBound(now: number): void {
    let total = 0;
    for (const item of this.#pending) total += item.entries;
    while (total > this.#config.maxBuffer && this.#pending.length > 0) {
      const oldest = this.#pending[0] as PendingItem;
      if (oldest.batches !== undefined && oldest.batches.length > 1) {
        const batch = oldest.batches.shift() as Batch;
        oldest.entries -= batch.entries;
        oldest.views -= batch.views;
        total -= batch.entries;
        this.#dropped(batch.views);
      } else if (this.#pending.length > 1) {
        this.#pending.shift();
        total -= oldest.entries;
        this.#dropped(oldest.views);
      } else {
        break;
      }
    }
    if (this.#dropUnwarned.batches > 0 && now - this.#dropWarnedAt >= 10_000) {
      this.#dropWarnedAt = now;
      this.#config.logger.warn(
        'pageViews: Redis is unreachable and the buffer is full; dropped the oldest unsent views',
        {
          droppedViews: this.#dropUnwarned.views,
          batches: this.#dropUnwarned.batches,
          maxBuffer: this.#config.maxBuffer,
        },
      );
      this.#dropUnwarned = { views: 0, batches: 0 };
    }
  }

  #dropped(views: number): void {
    // A dropped batch may have held the only write of a visitor that later views now skip.
    this.#preparer.forgetWritten();
    this.#droppedViews += views;
    this.#dropUnwarned.views += views;
    this.#dropUnwarned.batches += 1;
  }

  #drain(): Promise<void> {
    if (this.#running === undefined) {
      this.#running = this.#sendPending().finally(() => {
        this.#running = undefined;
      });
    }
    return this.#running;
  }

  async #sendPending(): Promise<void> {
    while (this.#pending.length > 0) {
      await this.#writer.idle();
      const first = this.#pending[0] as PendingItem;
      if (first.chunks === undefined) await this.#prepare(first);
      const chunks: Chunk[] = [];
      const owners: PendingItem[] = [];
      let summary: string | undefined;
      for (const item of this.#pending) {
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
      await this.#writer.send(chunks, summary, (written) => this.#settle(chunks, owners, written));
    }
  }

  /** Written chunks leave their items, and items with nothing left leave the queue. */
  #settle(chunks: readonly Chunk[], owners: readonly PendingItem[], written: readonly boolean[]): void {
    chunks.forEach((chunk, i) => {
      if (!written[i]) return;
      const owner = owners[i] as PendingItem;
      const list = owner.chunks ?? [];
      const index = list.indexOf(chunk);
      if (index >= 0) {
        list.splice(index, 1);
        owner.views -= chunk.views;
        owner.entries -= chunk.entries;
      }
    });
    this.#pending = this.#pending.filter((item) => item.chunks === undefined || item.chunks.length > 0);
  }

  /** Hashes the visitors of the oldest raw batches (merged) with their period salts and cuts the chunks. */
  async #prepare(item: PendingItem): Promise<void> {
    // Detached while hashing, so seal() starts a new item instead of adding to batches already merged.
    const batches = item.batches ?? [];
    item.batches = undefined;
    try {
      const { chunks, summary } = await this.#preparer.prepare(batches);
      item.chunks = chunks;
      item.summary = summary;
    } catch (error) {
      item.batches = batches;
      this.#preparer.forgetWritten();
      throw error;
    }
    // each chunk carries its share of the item's entries, so the buffer bound shrinks as chunks are written
    for (const chunk of item.chunks) chunk.entries = item.entries / item.chunks.length;
    if (item.chunks.length === 0) {
      // Everything was past its retention: nothing to write.
      this.#pending = this.#pending.filter((other) => other !== item);
    }
  }
}
