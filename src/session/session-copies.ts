// clientSideCaching for sessions: which session reads may be kept in memory, and for how long.
import { type Kept, TrackedReads } from '../redis/index.js';
import type { ResolvedSessionConfig } from './options.js';
import type { ReadReply } from './store.js';

/** A session hash kept in memory, and when (local `performance.now()` time) it expires in Redis. */
interface SessionCopy {
  readonly fields: string[];
  readonly expiresAt: number;
}

/**
 * Returning visitors' sessions in memory between two slides. A read inside `touchAfter` of the last slide
 * would not change the session in Redis, so it can be answered from a copy Redis keeps coherent; from then on,
 * reads go to Redis again, which slides the session. That also bounds how long a copy could outlive a change
 * whose invalidation was lost: `touchAfter` at most.
 */
export class SessionCopies {
  readonly reads: TrackedReads<SessionCopy>;
  readonly #idleMs: number;
  readonly #touchAfterMs: number;
  /** Bound once: the read path passes it on every Redis read without a new closure. */
  readonly keep = (reply: ReadReply): Kept<SessionCopy> | undefined => this.#keep(reply);

  constructor(config: ResolvedSessionConfig, maxSessions: number) {
    this.reads = new TrackedReads(config.redis, maxSessions);
    this.#idleMs = config.idleMs;
    this.#touchAfterMs = config.touchAfterMs;
  }

  /** The session as Redis would answer a read that does not slide it, or undefined when Redis must be asked. */
  get(key: string): ReadReply | undefined {
    const copy = this.reads.get(key);
    if (copy === undefined) return undefined;
    const ttlMs = Math.floor(copy.expiresAt - performance.now());
    return ttlMs > 0 ? [ttlMs, 0, copy.fields] : undefined;
  }

  #keep(reply: ReadReply): Kept<SessionCopy> | undefined {
    if (reply === null) return undefined;
    const [ttlMs, touched, fields] = reply;
    if (!(ttlMs > 0)) return undefined;
    const now = performance.now();
    // How long ago Redis last slid the session: now, when this read slid it; otherwise its idle timeout minus
    // what is left of it (an over-estimate when the absolute deadline caps the expiry, which only shortens how
    // long the copy is served).
    const sinceSlide = touched === 1 ? 0 : Math.max(0, idleOf(fields, this.#idleMs) - ttlMs);
    const expiresAt = now + ttlMs;
    const until = Math.min(expiresAt, now + this.#touchAfterMs - sinceSlide);
    return { value: { fields, expiresAt }, until };
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
