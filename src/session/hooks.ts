// The patched `res.writeHead` and `res.end`: write the session as the response goes out, restore afterwards.
import type { Response } from 'express';
import type { RequestSession } from './request-session.js';

/**
 * Builds the two response hooks of one middleware instance (once, at creation; the per-request state is
 * found on `res[stateKey]`).
 *
 * Why here: the headers are the last moment a cookie can be set, so the write starts when they go out and
 * runs while the body is sent; only the final `end` waits for Redis to confirm, so the client never sees the
 * response complete before its session is stored (its next request reads its own writes), and a streamed
 * body is not delayed. Both hooks put the originals back as soon as they are no longer needed.
 */
export function createResponseHooks(stateKey: symbol): {
  writeHead: Response['writeHead'];
  end: Response['end'];
} {
  function sessionWriteHead(this: Response, ...args: unknown[]): Response {
    const state = (this as unknown as Record<symbol, RequestSession | undefined>)[stateKey] as RequestSession;
    if (this.writeHead === sessionWriteHead) this.writeHead = state.origWriteHead;
    if (!state.committed) state.commitHeaders(args[args.length - 1]);
    return (state.origWriteHead as (...a: unknown[]) => Response).apply(this, args);
  }

  function sessionEnd(this: Response, ...args: unknown[]): Response {
    const state = (this as unknown as Record<symbol, RequestSession | undefined>)[stateKey] as RequestSession;
    // A second `end` while the first one waits for Redis: the response is already being finished.
    if (state.ending) return this;
    state.ending = true;
    state.endArgs = args;
    if (!state.committed && !this.headersSent) {
      state.commitHeaders();
    } else {
      // The headers went out earlier (through our writeHead, or past it): save what changed since.
      state.committed = true;
      state.lateWrites();
    }
    const pending = state.pending;
    if (pending === undefined) return state.finishEnd();
    // The write never rejects (failures are reported and the response goes out anyway).
    pending.then(() => state.finishEndSafely());
    return this;
  }

  return {
    writeHead: sessionWriteHead as unknown as Response['writeHead'],
    end: sessionEnd as unknown as Response['end'],
  };
}
