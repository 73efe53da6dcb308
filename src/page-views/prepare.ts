// Turns sealed batches into flush-script chunks, phase by phase: merge, salts, period counters, names, live.
import type { Batch, MergedBatch, RouteTally } from './batch.js';
import { mergeBatches } from './batch.js';
import { type Chunk, ChunkBuilder } from './chunks.js';
import type { PageViewKeys } from './keys.js';
import type { ResolvedPageViewsConfig } from './options.js';
import { type Granularity, periodEndMs, periodOfDay } from './periods.js';
import type { VisitorHashes, WantedSalts } from './visitor-hashes.js';
import { type Visitor, WrittenMarks } from './visitors.js';

/** Route names outlive the longest counter that may refer to them. */
const NAME_EXTRA_MS = 400 * 86_400_000;

/** What a group of batches writes: its chunks, and the live summary to publish with the first of them. */
export interface PreparedWrite {
  readonly chunks: Chunk[];
  readonly summary: string | undefined;
}

/** Prepares the writes of one middleware instance; its chunk ids are unique to the instance. */
export class ChunkPreparer {
  readonly #config: ResolvedPageViewsConfig;
  readonly #keys: PageViewKeys;
  readonly #hashes: VisitorHashes;
  readonly #instance: string;
  /** Which visitors are already in the HyperLogLogs, so that a flush writes only the others. */
  readonly #written = new WrittenMarks();
  #chunkSeq = 0;
  readonly #nextChunkId = (): string => `${this.#instance}.${(++this.#chunkSeq).toString(36)}`;

  constructor(config: ResolvedPageViewsConfig, keys: PageViewKeys, hashes: VisitorHashes, instance: string) {
    this.#config = config;
    this.#keys = keys;
    this.#hashes = hashes;
    this.#instance = instance;
  }

  /** Data this instance prepared may not reach Redis (dropped, or a flush failed): write every visitor again. */
  forgetWritten(): void {
    this.#written.forget();
  }

  /**
   * Merges the batches, hashes their visitors with the period salts (loading the salts first) and cuts the
   * chunks. Rejects when the salts cannot be loaded; the batches are left as they were.
   */
  async prepare(batches: readonly Batch[]): Promise<PreparedWrite> {
    const now = Date.now();
    const today = this.#config.clock.dayOf(now);
    const liveSince = now - this.#config.liveWindowMs;
    const liveDays = new Set([today, this.#config.clock.dayOf(liveSince)]);
    const merged = mergeBatches(batches, liveSince, liveDays);
    await this.#hashes.loadSalts(this.#saltsWanted(merged, today), now);

    const builder = new ChunkBuilder(this.#nextChunkId);
    await this.#addPeriodCounters(builder, merged.batch.days, now);
    this.#addRouteNames(builder, merged.batch.names, now);
    await this.#addLiveCounters(builder, merged, today, now);
    return { chunks: builder.chunks, summary: this.#liveSummary(merged.liveViews, now) };
  }

  /** The salt of every period the batch writes to, and today's for the live visitors. */
  #saltsWanted(merged: MergedBatch, today: string): WantedSalts {
    const wanted: WantedSalts = new Map();
    for (const day of merged.batch.days.keys()) {
      for (const granularity of this.#config.granularities) {
        const period = periodOfDay(day, granularity);
        wanted.set(this.#keys.salt(granularity, period), { granularity, period });
      }
    }
    if (merged.liveVisitors.length > 0) {
      wanted.set(this.#keys.salt('day', today), { granularity: 'day', period: today });
    }
    return wanted;
  }

  /**
   * Views of every route and of the site, per period each day falls in (unless expired), and the uniques of
   * the visitors not written yet for that route (or the site) on that day: being in the day's HyperLogLog, a
   * visitor is in the week's, month's and year's too, as they are written together.
   */
  async #addPeriodCounters(
    builder: ChunkBuilder,
    days: ReadonlyMap<string, Map<string, RouteTally>>,
    now: number,
  ): Promise<void> {
    for (const [day, routes] of days) {
      const unwritten = new Map<string, Visitor[]>();
      for (const [routeKey, tally] of routes) {
        unwritten.set(routeKey, this.#written.forRoute(tally.visitors, routeKey, day));
      }
      const site = this.#written.forSite(
        [...routes.values()].map((tally) => tally.visitors),
        day,
      );
      for (const granularity of this.#config.granularities) {
        const period = periodOfDay(day, granularity);
        const expireAt = Math.ceil(
          (periodEndMs(period, granularity) + this.#config.retentionMs[granularity]) / 1000,
        );
        if (expireAt * 1000 <= now) continue;
        await this.#addPeriod(builder, routes, unwritten, site, { granularity, period, expireAt });
      }
      let dayViews = 0;
      for (const tally of routes.values()) dayViews += tally.views;
      builder.countViews(dayViews);
    }
  }

  async #addPeriod(
    builder: ChunkBuilder,
    routes: ReadonlyMap<string, RouteTally>,
    unwritten: ReadonlyMap<string, readonly Visitor[]>,
    site: readonly Visitor[],
    { granularity, period, expireAt }: { granularity: Granularity; period: string; expireAt: number },
  ): Promise<void> {
    const saltKey = this.#keys.salt(granularity, period);
    const pairs: (string | number)[] = [];
    for (const [routeKey, tally] of routes) {
      pairs.push(routeKey, tally.views);
      const visitors = unwritten.get(routeKey) ?? [];
      if (visitors.length === 0) continue;
      const hashes = await this.#hashes.hashVisitors(saltKey, granularity, visitors);
      builder.addPacked(this.#keys.uniques(granularity, period, routeKey), expireAt, hashes);
    }
    builder.add(this.#keys.views(granularity, period), 'h', expireAt, pairs);
    if (site.length === 0) return;
    const hashes = await this.#hashes.hashVisitors(saltKey, granularity, site);
    builder.addPacked(this.#keys.uniques(granularity, period), expireAt, hashes);
  }

  /** Full names of routes whose key is a hash, kept as long as any counter may name them. */
  #addRouteNames(builder: ChunkBuilder, names: ReadonlyMap<string, string>, now: number): void {
    if (names.size === 0) return;
    const { granularities, retentionMs } = this.#config;
    const maxRetention = Math.max(...granularities.map((g) => retentionMs[g]));
    const pairs: string[] = [];
    for (const [key, name] of names) pairs.push(key, name);
    builder.add(this.#keys.routeNames, 's', Math.ceil((now + maxRetention + NAME_EXTRA_MS) / 1000), pairs);
  }

  /** This minute's live views and visitors (hashed with today's salt), kept for the live window. */
  async #addLiveCounters(
    builder: ChunkBuilder,
    merged: MergedBatch,
    today: string,
    now: number,
  ): Promise<void> {
    const { liveViews, liveVisitors } = merged;
    if (liveViews.size === 0) return;
    const minute = Math.floor(now / 60_000);
    const expireAt = Math.ceil(((minute + 1) * 60_000 + this.#config.liveWindowMs + 60_000) / 1000);
    const pairs: (string | number)[] = [];
    for (const [routeKey, views] of liveViews) pairs.push(routeKey, views);
    builder.add(this.#keys.liveViews(minute), 'h', expireAt, pairs);
    const visitors = this.#written.forLive(liveVisitors, minute);
    if (visitors.length === 0) return;
    const hashes = await this.#hashes.hashVisitors(this.#keys.salt('day', today), 'day', visitors);
    builder.addPacked(this.#keys.liveVisitors(minute), expireAt, hashes);
  }

  /** The summary event this instance publishes with the write, when it counted live views. */
  #liveSummary(liveViews: ReadonlyMap<string, number>, now: number): string | undefined {
    if (liveViews.size === 0) return undefined;
    let total = 0;
    for (const views of liveViews.values()) total += views;
    return JSON.stringify({
      type: 'summary',
      at: now,
      instance: this.#instance,
      views: Object.fromEntries(liveViews),
      total,
    });
  }
}
