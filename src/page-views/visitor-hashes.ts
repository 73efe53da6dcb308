// Visitor hashing at flush time: per-period random salts from Redis; each visitor keeps its hashes.
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { errorMessage } from '../core/index.js';
import { type ScriptRunner, withDeadline } from '../redis/index.js';
import type { Granularity } from './periods.js';
import { periodEndMs } from './periods.js';
import type { Visitor } from './visitors.js';

/** Salts outlive their period (or a write after it) by this much, so late writes of the period reuse them. */
const SALT_GRACE_MS = 2 * 86_400_000;
/** Visitor hashes computed between two yields to the event loop, so a large flush never stalls requests. */
const HASHES_PER_SLICE = 2_000;

/** A period whose salt a flush needs, by the salt's key. */
export type WantedSalts = Map<string, { granularity: Granularity; period: string }>;

/**
 * Turns raw visitor identities into keyed hashes: SHA-256 of `salt + raw` (the salt has a fixed length), 66
 * bits in base64url. Each period has its own random salt, so hashes of different periods cannot be linked.
 */
export class VisitorHashes {
  readonly #saltScript: ScriptRunner<string>;
  readonly #timeoutMs: number;
  readonly #salts = new Map<string, { salt: string; until: number }>();
  /** Hashes computed since the last yield to the event loop. */
  #work = 0;

  constructor(saltScript: ScriptRunner<string>, timeoutMs: number) {
    this.#saltScript = saltScript;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Starts a flush: loads (or creates) the salts of the given periods that are not cached yet, one round trip
   * at most; forgets the salts of periods that are over.
   */
  async loadSalts(wanted: WantedSalts, now: number): Promise<void> {
    for (const [key, entry] of this.#salts) if (entry.until < now) this.#salts.delete(key);
    const missing = [...wanted].filter(([key]) => !this.#salts.has(key));
    if (missing.length === 0) return;
    const loads = missing.map(([key, { granularity, period }]) => {
      // A period written later than its grace (an import of old views) keeps its salt for a grace from now:
      // a salt that expired as it was made would be a new one at every flush, and count each visitor again.
      const graceEnd = periodEndMs(period, granularity) + SALT_GRACE_MS;
      const until = graceEnd > now ? graceEnd : now + SALT_GRACE_MS;
      return this.#saltScript([key], [randomBytes(16).toString('base64url'), until]).then((salt) => {
        if (typeof salt !== 'string' || salt.length === 0) throw new Error(`bad salt reply for ${key}`);
        this.#salts.set(key, { salt, until });
      });
    });
    try {
      await withDeadline(Promise.all(loads), this.#timeoutMs);
    } catch (error) {
      for (const load of loads) load.catch(() => {});
      throw new Error(`pageViews: could not load visitor salts: ${errorMessage(error)}`);
    }
  }

  /**
   * The hashes of `visitors` with the salt of `saltKey` (loaded by {@link loadSalts}), the salt of a period of
   * `granularity`: a visitor's kept hash when it was made with that salt, otherwise a new one, yielding to the
   * event loop every few thousand new ones.
   */
  async hashVisitors(
    saltKey: string,
    granularity: Granularity,
    visitors: readonly Visitor[],
  ): Promise<string[]> {
    const salt = this.#salts.get(saltKey)?.salt as string;
    const hashes: string[] = [];
    for (const visitor of visitors) {
      let hash = visitor.keptHash(granularity, salt);
      if (hash === undefined) {
        hash = visitor.hash(granularity, salt);
        if (++this.#work === HASHES_PER_SLICE) {
          this.#work = 0;
          await yieldToEventLoop();
        }
      }
      hashes.push(hash);
    }
    return hashes;
  }
}
