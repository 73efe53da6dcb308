// The functions a capture installs on a response. Module-level, they find their capture through a symbol on the
// response, so capturing creates no closure per request.
import type { ServerResponse } from 'node:http';
import type { ResponseMethod } from './response-method.js';

/** What the installed functions call: the capture of the response they are installed on. */
export interface CaptureHooks {
  writeHead(args: unknown[]): unknown;
  write(chunk: unknown, encoding: unknown, callback: unknown): unknown;
  end(chunk: unknown, encoding: unknown, callback: unknown): unknown;
  /** Stands in for Node's `_storeHeader` (see capture.ts). */
  flushHead(firstLine: string, fields: unknown): unknown;
  close(): void;
}

const STATE: unique symbol = Symbol('express-redis-kit.responseCache.capture');

interface Captured extends ServerResponse {
  [STATE]?: CaptureHooks;
}

/** Makes `hooks` the capture the installed functions of `res` call. */
export function attachCapture(res: ServerResponse, hooks: CaptureHooks): void {
  (res as Captured)[STATE] = hooks;
}

function hooksOf(res: ServerResponse): CaptureHooks {
  return (res as Captured)[STATE] as CaptureHooks;
}

export const CAPTURED_METHOD_NAMES = ['writeHead', 'write', 'end'] as const;

/** What a captured response gets in place of its own `writeHead`, `write` and `end`. */
export const CAPTURED_METHODS = {
  writeHead: function writeHead(this: ServerResponse, ...args: unknown[]) {
    return hooksOf(this).writeHead(args);
  },
  write: function write(this: ServerResponse, chunk: unknown, encoding: unknown, callback: unknown) {
    return hooksOf(this).write(chunk, encoding, callback);
  },
  end: function end(this: ServerResponse, chunk: unknown, encoding: unknown, callback: unknown) {
    return hooksOf(this).end(chunk, encoding, callback);
  },
} satisfies Record<(typeof CAPTURED_METHOD_NAMES)[number], ResponseMethod>;

/** Stands in for Node's `_storeHeader` while a capture watches the fields that leave. */
export function storeHeaderHook(this: ServerResponse, firstLine: string, fields: unknown): unknown {
  return hooksOf(this).flushHead(firstLine, fields);
}

/** Listens for the response's 'close': a capture that has not ended gives up. */
export function onClose(this: ServerResponse): void {
  hooksOf(this)?.close();
}
