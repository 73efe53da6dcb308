// In-process tallies of page views between flushes, and merging them after an outage.
import type { Visitor } from './visitors.js';

/** Views and visitors of one route on one day. */
export interface RouteTally {
  /** Unique among the tallies of the process, so a visitor can remember the last one it was added to. */
  readonly id: number;
  views: number;
  /**
   * Visitors, hashed with the period salts only when the batch is written. A visitor is added once per run of
   * views of this route: one whose views alternate between routes may appear more than once, and the flush
   * takes each once.
   */
  readonly visitors: Visitor[];
}

let lastTallyId = 0;

function newTally(): RouteTally {
  return { id: ++lastTallyId, views: 0, visitors: [] };
}

/** Everything counted between two flushes. */
export interface Batch {
  /** day (`YYYY-MM-DD`) → route key → tally. */
  readonly days: Map<string, Map<string, RouteTally>>;
  /** Route key → route name, for route keys that are hashes of the name. */
  readonly names: Map<string, string>;
  /** Route tallies plus visitor entries: the unit of `maxBuffer`. */
  entries: number;
  views: number;
  /** When the batch was sealed (ms). */
  sealedAt: number;
}

export function emptyBatch(): Batch {
  return { days: new Map(), names: new Map(), entries: 0, views: 0, sealedAt: 0 };
}

/** Adds one view to a day's route tallies; returns how many buffer entries it added (0, 1 or 2). */
export function tallyView(
  routes: Map<string, RouteTally>,
  routeKey: string,
  visitor: Visitor | undefined,
  views = 1,
): number {
  let added = 0;
  let tally = routes.get(routeKey);
  if (tally === undefined) {
    tally = newTally();
    routes.set(routeKey, tally);
    added = 1;
  }
  tally.views += views;
  if (visitor !== undefined && visitor.lastTally !== tally.id) {
    visitor.lastTally = tally.id;
    tally.visitors.push(visitor);
    added += 1;
  }
  return added;
}

/** A merged view of several batches, plus the part of it recent enough for the live counters. */
export interface MergedBatch {
  readonly batch: Batch;
  /** Route key → views, from batches sealed within the live window. */
  readonly liveViews: Map<string, number>;
  /** Visitors of those batches (a visitor may appear more than once). */
  readonly liveVisitors: Visitor[];
}

/**
 * Merges batches (after an outage there is one per flush interval) into one, so they are hashed and written
 * together. Only batches sealed at or after `liveSince`, and in them only the days in `liveDays` (views
 * recorded for another day with `record({ at })` are not live), feed the live counters.
 */
export function mergeBatches(
  batches: readonly Batch[],
  liveSince: number,
  liveDays: ReadonlySet<string>,
): MergedBatch {
  const liveViews = new Map<string, number>();
  const liveVisitors: Visitor[] = [];
  let merged: Batch;
  if (batches.length === 1 && batches[0]) {
    merged = batches[0];
  } else {
    merged = emptyBatch();
    for (const batch of batches) {
      for (const [day, routes] of batch.days) {
        let into = merged.days.get(day);
        if (into === undefined) {
          into = new Map();
          merged.days.set(day, into);
        }
        for (const [routeKey, tally] of routes) {
          merged.entries += tallyView(into, routeKey, undefined, tally.views);
          const target = into.get(routeKey);
          if (target === undefined) continue;
          for (const visitor of tally.visitors) target.visitors.push(visitor);
          merged.entries += tally.visitors.length;
        }
      }
      for (const [key, name] of batch.names) merged.names.set(key, name);
      merged.views += batch.views;
      merged.sealedAt = Math.max(merged.sealedAt, batch.sealedAt);
    }
  }
  for (const batch of batches) {
    if (batch.sealedAt < liveSince) continue;
    for (const [day, routes] of batch.days) {
      if (!liveDays.has(day)) continue;
      for (const [routeKey, tally] of routes) {
        liveViews.set(routeKey, (liveViews.get(routeKey) ?? 0) + tally.views);
        for (const visitor of tally.visitors) liveVisitors.push(visitor);
      }
    }
  }
  return { batch: merged, liveViews, liveVisitors };
}
