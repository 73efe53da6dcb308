// Packs write operations into bounded chunks, each one call of the flush script (see FLUSH_SCRIPT).
import type { ScriptArg } from '../redis/index.js';

/** Most ARGV entries of one flush-script call, so one call never blocks Redis for long. */
export const MAX_CHUNK_ARGS = 20_000;

/** One call of the flush script: its own id (for its marker key), data keys and operations. */
export interface Chunk {
  readonly id: string;
  readonly keys: string[];
  readonly args: ScriptArg[];
  /** Views this chunk writes into day (or finest) counters, for the dropped-views warning. */
  views: number;
  /** This chunk's share of the buffer entries (the unit of `maxBuffer`). */
  entries: number;
}

/** Operations of the flush script. */
export type ChunkOp = 'h' | 'p' | 's';

/** Accumulates operations and cuts them into chunks of at most {@link MAX_CHUNK_ARGS} arguments. */
export class ChunkBuilder {
  readonly chunks: Chunk[] = [];
  readonly #nextId: () => string;
  readonly #maxArgs: number;
  #current: Chunk | undefined;
  #keyIndex = new Map<string, number>();

  constructor(nextId: () => string, maxArgs = MAX_CHUNK_ARGS) {
    this.#nextId = nextId;
    this.#maxArgs = maxArgs;
  }

  /**
   * Adds `items` (single elements for `p`, field/value pairs for `h` and `s`) for `key`, expiring it at
   * `expireAt` (unix seconds). Pairs are never split across chunks.
   */
  add(key: string, op: ChunkOp, expireAt: number, items: readonly ScriptArg[]): void {
    const width = op === 'p' ? 1 : 2;
    let offset = 0;
    while (offset < items.length) {
      let chunk = this.#current;
      if (chunk === undefined || chunk.args.length + 4 + width > this.#maxArgs) chunk = this.#startChunk();
      const room = Math.floor((this.#maxArgs - chunk.args.length - 4) / width) * width;
      const take = Math.min(items.length - offset, room);
      let index = this.#keyIndex.get(key);
      if (index === undefined) {
        chunk.keys.push(key);
        index = chunk.keys.length;
        this.#keyIndex.set(key, index);
      }
      chunk.args.push(index, op, expireAt, take / width);
      for (let i = offset; i < offset + take; i++) chunk.args.push(items[i] as ScriptArg);
      offset += take;
    }
  }

  /** Attributes views to the chunk being filled. */
  countViews(views: number): void {
    (this.#current ?? this.#startChunk()).views += views;
  }

  #startChunk(): Chunk {
    const chunk: Chunk = { id: this.#nextId(), keys: [], args: [], views: 0, entries: 0 };
    this.chunks.push(chunk);
    this.#current = chunk;
    this.#keyIndex = new Map();
    return chunk;
  }
}
