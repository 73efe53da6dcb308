// One object per visitor between flushes, so counting a view and hashing its visitor need no Set or Map lookup.
import { sha256 } from '../redis/index.js';
import type { Granularity } from './periods.js';

/** Where each granularity keeps its hash on a visitor (the live counters use the day's). */
const SLOT: Readonly<Record<Granularity, number>> = { day: 0, week: 1, month: 2, year: 3 };

/**
 * A raw visitor identity, with what counting it needs between flushes. Views carry the object, not the
 * string: whether it was already counted for a route, and its hash with a period's salt, are fields here
 * instead of entries of a Set and of hash caches, each of which cost a lookup per view in a large table.
 */
export class Visitor {
  readonly raw: string;
  /** The id of the route tally this visitor was last added to: a repeat view of that route adds nothing. */
  lastTally = 0;
  /** The last {@link distinctVisitors} pass that took this visitor. */
  pass = 0;
  /** Per granularity, the salt its kept hash was made with, and the hash. */
  readonly #salts: (string | undefined)[] = [undefined, undefined, undefined, undefined];
  readonly #hashes: string[] = ['', '', '', ''];

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

let lastPass = 0;

/** The visitors of `lists`, each once, in order of first appearance (a mark on each visitor, not a Set). */
export function distinctVisitors(lists: Iterable<readonly Visitor[]>): Visitor[] {
  const pass = ++lastPass;
  const distinct: Visitor[] = [];
  for (const list of lists) {
    for (const visitor of list) {
      if (visitor.pass === pass) continue;
      visitor.pass = pass;
      distinct.push(visitor);
    }
  }
  return distinct;
}
