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

/** Accumulates operations and cuts them into chunks of at most {@link MAX_CHUNK_ARGS} arguments (or elements). */
export class ChunkBuilder {
  readonly chunks: Chunk[] = [];
  readonly #nextId: () => string;
  readonly #maxArgs: number;
  #current: Chunk | undefined;
  #keyIndex = new Map<string, number>();
  /** Arguments of the current chunk, counting each packed element as one. */
  #weight = 0;

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
    for (let offset = 0; offset < items.length; ) {
      const take = Math.min(items.length - offset, this.#roomFor(width));
      const chunk = this.#current as Chunk;
      chunk.args.push(this.#indexOf(chunk, key), op, expireAt, take / width);
      for (let i = offset; i < offset + take; i++) chunk.args.push(items[i] as ScriptArg);
      this.#weight += 4 + take;
      offset += take;
    }
  }

  /**
   * Adds HyperLogLog elements that all have one length, packed into one argument per chunk (op `P`, which the
   * flush script cuts apart): a flush then sends a few long strings instead of thousands of arguments, each
   * of which costs the client more to encode than its bytes. They count toward a chunk's bound one by one.
   */
  addPacked(key: string, expireAt: number, elements: readonly string[]): void {
    for (let offset = 0; offset < elements.length; ) {
      const take = Math.min(elements.length - offset, this.#roomFor(1));
      const chunk = this.#current as Chunk;
      const packed =
        take === elements.length ? elements.join('') : elements.slice(offset, offset + take).join('');
      chunk.args.push(this.#indexOf(chunk, key), 'P', expireAt, take, packed);
      this.#weight += 4 + take;
      offset += take;
    }
  }

  /** Attributes views to the chunk being filled. */
  countViews(views: number): void {
    (this.#current ?? this.#startChunk()).views += views;
  }

  /** Makes sure the current chunk has room for one unit of `width` arguments; returns how many fit. */
  #roomFor(width: number): number {
    if (this.#current === undefined || this.#weight + 4 + width > this.#maxArgs) this.#startChunk();
    return Math.floor((this.#maxArgs - this.#weight - 4) / width) * width;
  }

  /** The position of `key` among the chunk's keys (from 1), adding it on first use. */
  #indexOf(chunk: Chunk, key: string): number {
    let index = this.#keyIndex.get(key);
    if (index === undefined) {
      chunk.keys.push(key);
      index = chunk.keys.length;
      this.#keyIndex.set(key, index);
    }
    return index;
  }

  #startChunk(): Chunk {
    const chunk: Chunk = { id: this.#nextId(), keys: [], args: [], views: 0, entries: 0 };
    this.chunks.push(chunk);
    this.#current = chunk;
    this.#keyIndex = new Map();
    this.#weight = 0;
    return chunk;
  }
}
