// Keeps the cache's own targeted field (meant for the cache alone) from reaching clients on every path.
import type { ServerResponse } from 'node:http';
import type { ResponseMethod } from './response-method.js';
import { OWN_CACHE_CONTROL } from './targeted.js';

const ORIGINAL: unique symbol = Symbol('express-redis-kit.responseCache.writeHead');

interface Stripped extends ServerResponse {
  [ORIGINAL]?: { method: ResponseMethod; own: boolean };
}

/**
 * Removes the cache's own field just before the status line goes out, on responses the cache does not
 * capture (bypassed, unsafe or answered without Redis); a captured response has it removed when the store
 * decision is made. Node sends the head through `res.writeHead` even for implicit heads, so one wrapper
 * covers all. The original is put back on the first call.
 */
export function stripOwnField(res: ServerResponse): void {
  const target = res as Stripped;
  if (target[ORIGINAL] !== undefined) return;
  target[ORIGINAL] = {
    method: res.writeHead as unknown as ResponseMethod,
    own: Object.hasOwn(res, 'writeHead'),
  };
  res.writeHead = writeHead as ServerResponse['writeHead'];
}

function writeHead(this: ServerResponse, ...args: unknown[]): unknown {
  const target = this as Stripped;
  const original = target[ORIGINAL] as { method: ResponseMethod; own: boolean };
  if (target.writeHead === (writeHead as ServerResponse['writeHead'])) {
    if (original.own) target.writeHead = original.method as ServerResponse['writeHead'];
    else delete (target as unknown as Record<string, unknown>).writeHead;
  }
  this.removeHeader(OWN_CACHE_CONTROL);
  // Fields passed to writeHead itself bypass removeHeader: pass a copy of an object argument without ours.
  const at = typeof args[1] === 'string' ? 2 : 1;
  const fields = args[at];
  if (fields !== null && typeof fields === 'object' && !Array.isArray(fields)) {
    const names = Object.keys(fields);
    if (names.some((name) => name.toLowerCase() === OWN_CACHE_CONTROL)) {
      const copy: Record<string, unknown> = {};
      for (const name of names) {
        if (name.toLowerCase() !== OWN_CACHE_CONTROL) copy[name] = (fields as Record<string, unknown>)[name];
      }
      const copied = args.slice();
      copied[at] = copy;
      return original.method.apply(this, copied);
    }
  }
  return original.method.apply(this, args);
}
