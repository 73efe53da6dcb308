// The session's response hooks: write the session as the response goes out, and end it once Redis confirmed.
import type { Response } from 'express';
import { continueEnd, errorMessage } from '../core/index.js';
import { allFields, applyChanges, type FieldChanges } from './fields.js';
import type { SessionController } from './session-controller.js';
import { setSessionCookie } from './session-cookie.js';
import type { SessionLocation } from './store.js';

/**
 * The session's side of the response (see core/response-hooks.ts, which calls these for the request's
 * {@link SessionController}).
 *
 * Why here: the headers are the last moment a cookie can be set, so the write starts when they go out and
 * runs while the body is sent; only the final `end` waits for Redis to confirm, so the client never sees the
 * response complete before its session is stored (its next request reads its own writes), and a streamed
 * body is not delayed.
 */
export function sessionHead(c: SessionController, args: unknown[]): void {
  if (!c.committed) commitHeaders(c, args[args.length - 1]);
}

export function sessionEnd(c: SessionController, args: unknown[]): Response {
  const res = c.res;
  // A second `end` while the first one waits for Redis: the response is already being finished.
  if (c.ending) return res;
  c.ending = true;
  c.endArgs = args;
  if (!c.committed && !res.headersSent) {
    commitHeaders(c);
  } else {
    // The headers went out earlier (through our head hook, or past it): save what changed since.
    c.committed = true;
    lateWrites(c);
  }
  const pending = c.pending;
  if (pending === undefined) return finishEnd(c);
  // The write never rejects (failures are reported and the response goes out anyway).
  pending.then(() => finishEndSafely(c));
  return res;
}

/** Called once, just before the response headers go out: starts the write and sets the cookie. */
function commitHeaders(c: SessionController, headers?: unknown): void {
  c.committed = true;
  const state = c.state;
  if (state === 'stored') {
    const changes = c.retime ? c.retimeChanges() : c.diff();
    if (changes !== undefined) c.pending = update(c, changes);
  } else if (state === 'new') {
    const saved = new Map<string, string>();
    const pairs = allFields(c.object, saved, c.ctx.config.logger);
    if (pairs.length > 0) {
      c.ensureId();
      c.addCreationMeta(pairs);
      c.creating(saved);
      // What the create will set: a lifetime of its own may exceed the absolute timeout, which caps it.
      c.cookieTtl = Math.min(c.idleMs(), c.ctx.config.absoluteMs);
      c.pending = createWithResponse(c, pairs);
    }
  } else if (state !== 'write-failed') {
    // Redis failed at load: nothing is written, and the browser's cookie is left alone.
    return;
  }
  setSessionCookie(c, headers);
}

/** At `res.end` after the headers already went out: writes what the handler changed since. */
function lateWrites(c: SessionController): void {
  if (c.state === 'stored') {
    const prior = c.pending;
    c.pending = prior === undefined ? updateLate(c) : prior.then(() => updateLate(c));
  } else if (
    c.state === 'new' &&
    allFields(c.object, new Map(), c.ctx.config.logger).length > 0 &&
    !c.ctx.warnedLateData
  ) {
    c.ctx.warnedLateData = true;
    c.ctx.config.logger.warn(
      'Session data was set after the response headers were sent, on a session that had no cookie yet: ' +
        'it was not saved. Set session data before sending the response.',
      { source: 'session', path: c.req.path },
    );
  }
}

async function update(c: SessionController, changes: FieldChanges): Promise<void> {
  try {
    const location = c.location as SessionLocation;
    const retime = c.retime;
    if (await c.ctx.store.update(location.key, changes.pairs, changes.deletions, retime ? c.idleMs() : 0)) {
      applyChanges(c.saved as Map<string, string>, changes);
      if (retime) c.retimed();
    }
  } catch (error) {
    c.writeFailed();
    c.ctx.report(error, 'session save');
  }
}

function updateLate(c: SessionController): Promise<void> | undefined {
  if (c.state !== 'stored') return undefined;
  const changes = c.diff();
  return changes === undefined ? undefined : update(c, changes);
}

async function createWithResponse(c: SessionController, pairs: string[]): Promise<void> {
  try {
    const result = await c.ctx.store.create((c.location as SessionLocation).key, 0, 0, pairs, c.idleMs());
    if (result !== null) {
      c.created = result.created;
      c.absolute = result.absolute;
    }
  } catch (error) {
    c.writeFailed();
    c.ctx.report(error, 'session save');
  }
}

/** Ends the response for real. */
function finishEnd(c: SessionController): Response {
  return continueEnd(c.res, c, c.endArgs as unknown[]) as Response;
}

/** {@link finishEnd} after an asynchronous wait, where a throw would otherwise go unhandled. */
function finishEndSafely(c: SessionController): void {
  try {
    finishEnd(c);
  } catch (error) {
    c.ctx.config.logger.error('Ending the response failed after the session was saved', {
      source: 'session',
      error: errorMessage(error),
    });
    c.res.destroy();
  }
}
