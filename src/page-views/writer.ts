// Sends prepared chunks to Redis, one pipeline at a time, and runs the live script beside them.
import {
  type RedisErrorReporter,
  type ScriptArg,
  type VariadicRunner,
  withDeadline,
} from '../redis/index.js';
import type { Chunk } from './chunks.js';
import type { PageViewKeys } from './keys.js';
import type { ResolvedPageViewsConfig } from './options.js';

/** Lifetime of a chunk's marker when no later flush deletes it (the instance stopped). */
const MARKER_TTL_MS = 86_400_000;
/** Markers of confirmed chunks deleted by one write; the rest wait for the next. */
const DELETES_PER_WRITE = 256;
/** How many top routes the live summary lists. */
export const LIVE_TOP_ROUTES = 20;

/** The scripts the writer calls, registered once by the factory. */
export interface WriterScripts {
  readonly flush: VariadicRunner<number>;
  readonly live: VariadicRunner<string>;
}

/**
 * Writes chunks with the flush script, exactly once each (a marker per chunk makes a retry a no-op), and
 * deletes the markers of chunks whose success it has seen with the next write.
 */
export class ChunkWriter {
  readonly #config: ResolvedPageViewsConfig;
  readonly #keys: PageViewKeys;
  readonly #scripts: WriterScripts;
  readonly #report: RedisErrorReporter;
  readonly #liveMinutes: number;
  /** Ids of chunks Redis confirmed, whose markers the next write deletes. */
  #confirmed: string[] = [];
  /** The last pipeline while its outcome is unknown (it may still run after its deadline). */
  #inflight: Promise<void> | undefined;
  #flushes = 0;

  constructor(
    config: ResolvedPageViewsConfig,
    keys: PageViewKeys,
    scripts: WriterScripts,
    report: RedisErrorReporter,
  ) {
    this.#config = config;
    this.#keys = keys;
    this.#scripts = scripts;
    this.#report = report;
    this.#liveMinutes = Math.ceil(config.liveWindowMs / 60_000);
  }

  /** Flush pipelines that reached Redis. */
  get flushes(): number {
    return this.#flushes;
  }

  /** Waits (within the deadline) for a pipeline whose outcome is unknown: never stack a second behind it. */
  async idle(): Promise<void> {
    if (this.#inflight !== undefined) await withDeadline(this.#inflight, this.#config.timeoutMs);
  }

  /**
   * Sends `chunks` (and `summary`, to publish) in one pipeline. `settle` receives which chunks Redis applied
   * as soon as it replies, even when that is after the deadline. Rejects with the pipeline's error, the
   * first chunk's error, or a timeout.
   */
  async send(
    chunks: readonly Chunk[],
    summary: string | undefined,
    settle: (written: readonly boolean[]) => void,
  ): Promise<void> {
    const pipeline = this.#config.redis.pipeline();
    const deletes = this.#confirmed.splice(0, DELETES_PER_WRITE);
    chunks.forEach((chunk, i) => {
      const dels = i === 0 ? deletes : [];
      this.#scripts.flush.queue(
        pipeline,
        [this.#keys.marker(chunk.id)].concat(
          dels.map((id) => this.#keys.marker(id)),
          chunk.keys,
        ),
        [MARKER_TTL_MS, dels.length].concat(chunk.args as number[]),
      );
    });
    if (summary !== undefined) {
      this.#scripts.live.queue(
        pipeline,
        this.#liveKeys(Date.now()),
        this.#liveArgs(this.#keys.channel, summary),
      );
    }
    const settled = pipeline.exec().then(
      (results) => this.#settle(chunks, deletes, results ?? [], settle),
      (error: unknown) => {
        this.#confirmed.unshift(...deletes);
        throw error;
      },
    );
    const inflight = settled.then(
      () => undefined,
      () => undefined,
    );
    this.#inflight = inflight;
    inflight.finally(() => {
      if (this.#inflight === inflight) this.#inflight = undefined;
    });
    await withDeadline(settled, this.#config.timeoutMs);
  }

  /** The live summary of the window ending now, extending `summary` (JSON), without publishing it. */
  liveSnapshot(summary: string): Promise<string> {
    return withDeadline(
      this.#scripts.live(this.#liveKeys(Date.now()), this.#liveArgs('', summary)),
      this.#config.timeoutMs,
    );
  }

  /** Applies a pipeline's replies: confirmed chunks, then `settle`; throws the first chunk error. */
  #settle(
    chunks: readonly Chunk[],
    deletes: readonly string[],
    results: [Error | null, unknown][],
    settle: (written: readonly boolean[]) => void,
  ): void {
    this.#flushes += 1;
    let failure: unknown;
    const written = chunks.map((chunk, i) => {
      const [error] = results[i] ?? [new Error('no reply')];
      if (error) {
        failure ??= error;
        if (i === 0) this.#confirmed.unshift(...deletes);
        return false;
      }
      this.#confirmed.push(chunk.id);
      return true;
    });
    settle(written);
    const liveReply = results[chunks.length];
    if (liveReply?.[0]) this.#report(liveReply[0], 'pageViews live summary');
    if (failure !== undefined) throw failure;
  }

  /** The keys of the live window ending `now`: visitor HLLs first, then route→views hashes. */
  #liveKeys(now: number): string[] {
    const minute = Math.floor(now / 60_000);
    const keys: string[] = [];
    for (let i = this.#liveMinutes - 1; i >= 0; i--) keys.push(this.#keys.liveVisitors(minute - i));
    for (let i = this.#liveMinutes - 1; i >= 0; i--) keys.push(this.#keys.liveViews(minute - i));
    return keys;
  }

  /** Arguments of the live script after the keys. */
  #liveArgs(channel: string, summary: string): ScriptArg[] {
    return [this.#liveMinutes, channel, summary, LIVE_TOP_ROUTES, this.#config.liveWindowMs];
  }
}
