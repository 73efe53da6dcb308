// The cache's admin operations: tag invalidation and clear(), for every instance and on Redis Cluster.
import {
  clientKeyPrefix,
  isCluster,
  registerScript,
  type ScriptRunner,
  withDeadline,
} from '../redis/index.js';
import { ENTRY_DROP, ENTRY_TOMBSTONE, GENERATION_BUMP, TAG_INVALIDATE } from './scripts.js';
import type { CacheStore } from './store.js';

/** Admin calls are not on a request's path: they may take longer, but never hang. */
const MIN_ADMIN_TIMEOUT_MS = 5_000;

export class CacheAdmin {
  readonly #store: CacheStore;
  readonly #generationBump: ScriptRunner<string>;
  readonly #tagInvalidate: ScriptRunner<string[]>;
  readonly #entryTombstone: ScriptRunner<number>;
  readonly #entryDrop: ScriptRunner<number>;
  readonly #timeoutMs: number;

  /** `timeoutMs`: the cache's deadline for a request's Redis calls. */
  constructor(store: CacheStore, timeoutMs: number) {
    this.#store = store;
    const redis = store.redis;
    this.#generationBump = registerScript(redis, GENERATION_BUMP);
    this.#tagInvalidate = registerScript(redis, TAG_INVALIDATE);
    this.#entryTombstone = registerScript(redis, ENTRY_TOMBSTONE);
    this.#entryDrop = registerScript(redis, ENTRY_DROP);
    this.#timeoutMs = Math.max(timeoutMs, MIN_ADMIN_TIMEOUT_MS);
  }

  /**
   * Invalidates tags: bumps the generation, marks each tag invalidated at it and empties its set, then
   * replaces each listed entry with a tombstone. Every instance sees it at once (the state is in Redis), and
   * each step touches one slot, so it runs on Cluster with per-key calls.
   */
  async invalidate(tags: readonly string[]): Promise<number> {
    if (tags.length === 0) return 0;
    const store = this.#store;
    const retention = store.retentionMs;
    const timeout = this.#timeoutMs;
    const generation = await withDeadline(this.#generationBump([store.generationKey], [retention]), timeout);
    const lists = await Promise.all(
      tags.map((tag) =>
        withDeadline(this.#tagInvalidate(store.tagKeys(tag), [generation, retention]), timeout),
      ),
    );
    const hashes = new Set<string>();
    for (const list of lists) for (const h of list) hashes.add(h);
    await Promise.all(
      [...hashes].map((h) =>
        withDeadline(this.#entryTombstone([store.entryKey(h)], [generation, retention]), timeout),
      ),
    );
    // This instance's copies go at once; other instances' go when Redis tells them the entries changed.
    store.forgetCopies();
    return hashes.size;
  }

  /**
   * Deletes this cache's entries, tag sets and locks with SCAN + UNLINK on every master. Invalidation
   * records, tombstones and the generation stay (they expire by themselves and keep protecting against
   * renders that began before an invalidation).
   */
  async clear(): Promise<number> {
    const store = this.#store;
    const client = store.redis;
    const base = store.keyBase;
    // SCAN sees the keys as stored, with the client's keyPrefix; commands sent through the client add it again.
    const keyPrefix = clientKeyPrefix(client);
    const pattern = `${escapeGlob(keyPrefix + base)}*`;
    const nodes = isCluster(client) ? client.nodes('master') : [client];
    const timeout = this.#timeoutMs;
    let removed = 0;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await withDeadline(node.scan(cursor, 'MATCH', pattern, 'COUNT', 500), timeout);
        cursor = next;
        // One call per key: on Cluster the keys of one node still sit in many slots.
        const counts = await Promise.all(
          keys.map((stored) => {
            const key = stored.slice(keyPrefix.length);
            const kind = key.charAt(base.length);
            if (kind === 'e') return withDeadline(this.#entryDrop([key]), timeout);
            if (kind === 't' || kind === 'l') return withDeadline(client.unlink(key), timeout);
            return 0;
          }),
        );
        for (const n of counts) removed += n;
      } while (cursor !== '0');
    }
    store.forgetCopies();
    return removed;
  }
}

/** Escapes SCAN MATCH glob characters in a literal prefix. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
