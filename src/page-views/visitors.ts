// One object per visitor between flushes: a view finds it with its client, and the rest needs no lookup.
import { sha256 } from '../redis/index.js';
import type { Granularity } from './periods.js';

/** Where each granularity keeps its hash on a visitor (the live counters use the day's). */
const SLOT: Readonly<Record<Granularity, number>> = { day: 0, week: 1, month: 2, year: 3 };

/**
 * A raw visitor identity, with what counting it needs between flushes. Views carry the object, not the
 * string: whether it was already counted for a route, its hash with a period's salt, and which HyperLogLogs
 * already hold it are fields here, instead of entries of Sets and caches that each cost a lookup per view in
 * a large table.
 */
export class Visitor {
  readonly raw: string;
  /** The id of the route tally this visitor was last added to: a repeat view of that route adds nothing. */
  lastTally = 0;
  /** Per granularity, the salt its kept hash was made with, and the hash. */
  readonly #salts: (string | undefined)[] = [undefined, undefined, undefined, undefined];
  readonly #hashes: string[] = ['', '', '', ''];
  /** What this visitor's hashes were last written for (see {@link WrittenMarks}), valid in `#epoch` only. */
  #epoch = 0;
  #route = '';
  #routeDay = '';
  #siteDay = '';
  #liveMinute = -1;

  constructor(raw: string) {
    this.raw = raw;
  }

  /** The kept hash for this granularity's salt, if it was made with `salt`. */
  keptHash(granularity: Granularity, salt: string): string | undefined {
    const slot = SLOT[granularity];
    return this.#salts[slot] === salt ? this.#hashes[slot] : undefined;
  }

  /** SHA-256 of `salt + raw` (the salt has a fixed length), 66 bits in base64url; kept until the salt changes. */
  hash(granularity: Granularity, salt: string): string {
    const slot = SLOT[granularity];
    const hash = sha256(salt + this.raw).slice(0, 11);
    this.#salts[slot] = salt;
    this.#hashes[slot] = hash;
    return hash;
  }

  /** Marks the visitor written for `route` on `day` (and so its week, month and year); false if it was. */
  markRoute(route: string, day: string, epoch: number): boolean {
    this.#enter(epoch);
    if (this.#route === route && this.#routeDay === day) return false;
    this.#route = route;
    this.#routeDay = day;
    return true;
  }

  /** Marks the visitor written for the whole site on `day`; false if it was. */
  markSite(day: string, epoch: number): boolean {
    this.#enter(epoch);
    if (this.#siteDay === day) return false;
    this.#siteDay = day;
    return true;
  }

  /** Marks the visitor written for the live visitors of `minute`; false if it was. */
  markLive(minute: number, epoch: number): boolean {
    this.#enter(epoch);
    if (this.#liveMinute === minute) return false;
    this.#liveMinute = minute;
    return true;
  }

  /** Marks made in an earlier epoch say nothing: the visitor starts over as written nowhere. */
  #enter(epoch: number): void {
    if (this.#epoch === epoch) return;
    this.#epoch = epoch;
    this.#route = '';
    this.#routeDay = '';
    this.#siteDay = '';
    this.#liveMinute = -1;
  }
}

/**
 * Which visitors a flush still has to write. Adding a visitor's hash to a HyperLogLog that holds it changes
 * nothing, so each visitor is written once per route and day, once per day for the site and once per minute
 * for the live count, however many views it makes in between: writing returning visitors again was most of
 * what a flush cost. A visitor appearing twice in a list is taken once. When written data may have been lost
 * before it reached Redis (a batch dropped, a flush that failed half-way), {@link forget} starts a new epoch
 * and every visitor is written again on its next view.
 */
export class WrittenMarks {
  #epoch = 1;

  /** Starts over: every visitor counts as not written. */
  forget(): void {
    this.#epoch += 1;
  }

  /** The visitors of `list` not yet written for `route` on `day`, each once; marks them written. */
  forRoute(list: readonly Visitor[], route: string, day: string): Visitor[] {
    const epoch = this.#epoch;
    return list.filter((visitor) => visitor.markRoute(route, day, epoch));
  }

  /** The visitors of `lists` not yet written for the site on `day`, each once; marks them written. */
  forSite(lists: Iterable<readonly Visitor[]>, day: string): Visitor[] {
    const epoch = this.#epoch;
    const unwritten: Visitor[] = [];
    for (const list of lists) {
      for (const visitor of list) if (visitor.markSite(day, epoch)) unwritten.push(visitor);
    }
    return unwritten;
  }

  /** The visitors of `list` not yet written for the live count of `minute`, each once; marks them written. */
  forLive(list: readonly Visitor[], minute: number): Visitor[] {
    const epoch = this.#epoch;
    return list.filter((visitor) => visitor.markLive(minute, epoch));
  }
}

/**
 * Raw identity → {@link Visitor}, so the same visitor is one object however it was found, and its hashes are
 * made once per period. Bounded: at `limit` distinct visitors it starts over (the hashes are then made again).
 */
export class VisitorRegistry {
  readonly #byRaw = new Map<string, Visitor>();
  readonly #limit: number;

  constructor(limit = 20_000) {
    this.#limit = limit;
  }

  of(raw: string): Visitor {
    let visitor = this.#byRaw.get(raw);
    if (visitor === undefined) {
      visitor = new Visitor(raw);
      if (this.#byRaw.size >= this.#limit) this.#byRaw.clear();
      this.#byRaw.set(raw, visitor);
    }
    return visitor;
  }
}
