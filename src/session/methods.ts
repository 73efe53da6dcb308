// The session methods that reach Redis: sign in and out, renew the id, destroy, save and reload.
// Each runs through SessionController.run (one at a time, Redis failures as ERR_SESSION_STORE).
import { SessionError } from './errors.js';
import {
  allFields,
  applyChanges,
  carriedMeta,
  clearData,
  encodeLifetime,
  idleOf,
  keptView,
  loadFields,
  pushMeta,
  signInMeta,
} from './fields.js';
import { newId, newUserSessionId, userTag } from './ids.js';
import { ReqSession } from './req-session.js';
import type { SessionController } from './session-controller.js';
import { isStored, isUnloaded, mayBeStored } from './state.js';
import type { CreateResult, SessionLocation } from './store.js';

/** Which data survives an id change: all, none, or the listed keys. */
export type Keep = boolean | readonly string[];

/** Signs `userId` in under a new id in the user's slot, ending the session it replaces; never half done. */
export async function signIn(
  c: SessionController,
  userId: string,
  keep: Keep,
  lifetime: number | null | undefined,
): Promise<void> {
  const { config, store } = c.ctx;
  const tag = userTag(config.tagKeys[0] as Buffer, userId);
  const id = newUserSessionId(tag);
  const at = store.locate(id, tag);
  const saved = new Map<string, string>();
  const pairs = allFields(keptView(c.object, keep), saved, c.ctx.config.logger);
  const meta = signInMeta(userId, c.req.headers['user-agent'], c.req.ip);
  if (config.bind !== undefined) meta['@b'] = c.bindValue();
  if (lifetime !== undefined) meta['@m'] = encodeLifetime(lifetime);
  pushMeta(pairs, meta);
  const old = mayBeStored(c.state) ? c.location : undefined;
  const sameSlot = old !== undefined && old.tag === tag;
  const [joined, ended] = await Promise.allSettled([
    store.join(at, { pairs, idleMs: idleOf(lifetime, config.idleMs), replaces: sameSlot ? old : undefined }),
    old !== undefined && !sameSlot ? store.end(old) : Promise.resolve(false),
  ]);
  if (joined.status === 'rejected' || ended.status === 'rejected') {
    // Never leave a half sign-in: without the old session ended, the new one must not live either.
    if (joined.status === 'fulfilled' && typeof joined.value === 'object') {
      store.end(at).catch((error: unknown) => c.ctx.report(error, 'session sign-in cleanup'));
    }
    if (ended.status === 'fulfilled' && old !== undefined) c.detach(false);
    throw joined.status === 'rejected' ? joined.reason : (ended as PromiseRejectedResult).reason;
  }
  const result = joined.value;
  if (typeof result !== 'object') {
    throw new SessionError('ERR_SESSION_STORE', 'Could not create the signed-in session (id taken).');
  }
  clearData(c.object, keep);
  c.adopt(id, at, userId, result, saved, meta);
}

/** Gives the session a new id, keeping its user, its deadline and the data `keep` selects. */
export async function regenerate(c: SessionController, keep: Keep): Promise<void> {
  const { store } = c.ctx;
  const old = c.location;
  if (!mayBeStored(c.state) || old === undefined) {
    // Nothing in Redis yet: a new id costs nothing.
    clearData(c.object, keep);
    c.id = undefined;
    c.location = undefined;
    return;
  }
  if (c.state === 'unconfirmed') {
    // Redis could not load it: end it, and let the kept data start a new session with the response.
    await store.end(old);
    clearData(c.object, keep);
    c.ended();
    return;
  }
  const saved = new Map<string, string>();
  const pairs = allFields(keptView(c.object, keep), saved, c.ctx.config.logger);
  const meta = carriedMeta(c.meta);
  const lifetime = c.lifetime();
  if (lifetime !== undefined) meta['@m'] = encodeLifetime(lifetime);
  const idleMs = c.idleMs();
  pushMeta(pairs, meta);
  let id: string | undefined;
  let at: SessionLocation | undefined;
  let result: CreateResult | 'gone' | 'taken' | null = 'gone';
  if (old.tag !== undefined) {
    id = newUserSessionId(old.tag);
    at = store.locate(id, old.tag);
    const { created, absolute } = c;
    result = await store.join(at, {
      pairs,
      idleMs,
      created,
      absolute,
      replaces: old,
      replacedMustExist: true,
    });
  } else if (await store.end(old)) {
    // Two slots: the old one ends first, so a session ended meanwhile is not brought back under a new id.
    id = newId();
    at = store.locate(id, undefined);
    result = await store.create(at.key, c.created, c.absolute, pairs, idleMs);
  }
  if (typeof result !== 'object' || result === null || id === undefined || at === undefined) {
    clearData(c.object, false);
    c.detach(true);
    throw new SessionError(
      'ERR_SESSION_GONE',
      'The session was ended by another request; it was not renewed.',
    );
  }
  clearData(c.object, keep);
  c.adopt(id, at, c.userId, result, saved, meta);
}

/** Ends the session; `unset` also removes `req.session`, as express-session's `destroy(callback)` does. */
export async function destroy(c: SessionController, unset: boolean): Promise<void> {
  if (mayBeStored(c.state) && c.location !== undefined) await c.ctx.store.end(c.location);
  clearData(c.object, false);
  c.ended();
  if (unset && c.ctx.reqSession.get(c.req) === c.object) c.ctx.reqSession.unset(c.req);
}

/**
 * express-session's `regenerate(callback)`: ends the stored session and puts a new, empty one on
 * `req.session` (new id, no user, default lifetime). The old object keeps its data, so a caller can copy
 * from it (Passport's `keepSessionInfo`); it is no longer saved.
 */
export async function replace(c: SessionController): Promise<void> {
  if (mayBeStored(c.state) && c.location !== undefined) await c.ctx.store.end(c.location);
  c.ended();
  const fresh = new ReqSession(c);
  c.object = fresh;
  c.ctx.reqSession.set(c.req, fresh);
}

/** Writes pending changes now; a new session is created. */
export async function save(c: SessionController): Promise<void> {
  if (isUnloaded(c.state)) {
    throw new SessionError(
      'ERR_SESSION_STORE',
      'The session could not be loaded from Redis for this request, so it cannot be saved.',
    );
  }
  if (isStored(c.state)) {
    await c.pending;
    const retime = c.retime && !c.committed;
    const changes = retime ? c.retimeChanges() : c.diff();
    if (changes === undefined) return;
    const location = c.location as SessionLocation;
    const idleMs = retime ? c.idleMs() : 0;
    if (!(await c.ctx.store.update(location.key, changes.pairs, changes.deletions, idleMs))) {
      clearData(c.object, false);
      c.detach(true);
      throw new SessionError(
        'ERR_SESSION_GONE',
        'The session was ended by another request; nothing was saved.',
      );
    }
    applyChanges(c.saved as Map<string, string>, changes);
    if (retime) c.retimed();
    return;
  }
  const saved = new Map<string, string>();
  const pairs = allFields(c.object, saved, c.ctx.config.logger);
  if (pairs.length === 0) return;
  if (c.committed || c.res.headersSent) {
    throw new SessionError(
      'ERR_SESSION_HEADERS_SENT',
      'A new session cannot be saved after the headers were sent.',
    );
  }
  c.ensureId();
  c.addCreationMeta(pairs);
  const result = await c.ctx.store.create((c.location as SessionLocation).key, 0, 0, pairs, c.idleMs());
  if (result === null)
    throw new SessionError('ERR_SESSION_STORE', 'Could not create the session (id taken).');
  c.creating(saved);
  c.created = result.created;
  c.absolute = result.absolute;
  c.cookieTtl = result.ttlMs;
}

/** Reads the session from Redis again, replacing its data (and dropping unsaved changes). */
export async function reload(c: SessionController): Promise<void> {
  const location = c.location;
  if (!mayBeStored(c.state) || location === undefined) {
    throw new SessionError(
      'ERR_SESSION_GONE',
      'The session is not stored in Redis, so it cannot be reloaded.',
    );
  }
  await c.pending;
  const reply = await c.ctx.store.read(location.key);
  clearData(c.object, false);
  if (reply === null) {
    c.detach(true);
    throw new SessionError(
      'ERR_SESSION_GONE',
      'The session was ended by another request; nothing was reloaded.',
    );
  }
  const saved = new Map<string, string>();
  const meta = loadFields(reply[2], c.object, saved);
  c.loaded(saved, meta);
  if (reply[1] === 1 && !c.committed) c.cookieTtl = Number(reply[0]);
}
