// Helpers for the response-cache tests: gates to hold a handler, polling, and reading entries from Redis.
import type { Cluster, Redis } from 'ioredis';
import { decodeEntry, readEntryLabels } from '../../src/cache/entry.js';

/** A promise a test opens when it wants: holds a handler mid-render without timing guesses. */
export interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open: () => void = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Polls `check` until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every key matching `pattern` on a standalone Redis or on every master of a Cluster (SCAN). */
export async function scanKeys(client: Redis | Cluster, pattern: string): Promise<string[]> {
  const nodes =
    'isCluster' in client && client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
  }
  return keys.sort();
}

/** The decoded entries of a cache (`<prefix><name>:e:*`), with their keys, tags and URLs. */
export async function readEntries(client: Redis | Cluster, keyBase: string) {
  const keys = await scanKeys(client, `${keyBase}e:*`);
  const out = [];
  for (const key of keys) {
    const buf = await client.getBuffer(key);
    if (buf === null || buf[0] !== 0xe1) continue;
    out.push({ key, ...decodeEntry(buf), ...readEntryLabels(buf), raw: buf });
  }
  return out;
}

/** A header value of a decoded entry's flat header list. */
export function entryHeader(
  headers: readonly (string | string[])[],
  name: string,
): string | string[] | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/**
 * Instances behind one load balancer all see the site's public Host, whatever port each test server has:
 * mount first on every instance of a test that shares entries between instances.
 */
export function publicHost(req: { headers: { host?: string } }, _res: unknown, next: () => void): void {
  req.headers.host = 'shop.test';
  next();
}
