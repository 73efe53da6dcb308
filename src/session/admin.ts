// The admin methods on the middleware: list a user's devices, end one, end all (but one).
import { storeError } from './errors.js';
import { HANDLE_PATTERN, normalizeUserId, userTag } from './ids.js';
import type { ResolvedSessionConfig } from './options.js';
import type { SessionStore } from './store.js';
import type { SessionInfo } from './types.js';

/** Options of `listForUser`. */
export interface ListSessionsOptions {
  /** The handle to flag as `current`, usually `req.session.handle`. */
  current?: string;
}

/** Options of `revokeAll`. */
export interface RevokeAllOptions {
  /** A handle to spare, usually `req.session.handle` ("sign out everywhere else"). */
  except?: string;
}

/** The admin methods attached to the middleware. */
export interface SessionAdmin {
  /**
   * The user's live signed-in sessions, most recently used first. Entries of ended sessions are pruned from
   * the user's index on the way.
   */
  listForUser(userId: string | number, options?: ListSessionsOptions): Promise<SessionInfo[]>;
  /** Ends one session of the user. False when there is no such live session. */
  revoke(userId: string | number, handle: string): Promise<boolean>;
  /** Ends all the user's sessions (but `except`), atomically. Returns how many ended. */
  revokeAll(userId: string | number, options?: RevokeAllOptions): Promise<number>;
}

/**
 * Builds the admin methods. A user's sessions live under the tag of the secret that was first when they
 * signed in, so each call visits the tag of every configured secret (one script per tag; one in total
 * unless secrets are being rotated).
 */
export function createAdmin(config: ResolvedSessionConfig, store: SessionStore): SessionAdmin {
  const tagsOf = (userId: string): string[] => [
    ...new Set(config.tagKeys.map((key) => userTag(key, userId))),
  ];

  return {
    async listForUser(userId, options = {}) {
      const uid = normalizeUserId(userId);
      const current = options.current;
      let lists: Awaited<ReturnType<SessionStore['list']>>[];
      try {
        lists = await Promise.all(tagsOf(uid).map((tag) => store.list(tag, uid)));
      } catch (error) {
        throw storeError(error, 'list sessions');
      }
      return lists
        .flat()
        .sort((a, b) => b.lastSeen - a.lastSeen)
        .map(
          (s): SessionInfo => ({
            handle: s.handle,
            createdAt: new Date(s.created),
            lastSeenAt: new Date(s.lastSeen),
            expiresAt: new Date(s.expires),
            userAgent: s.userAgent,
            ip: s.ip,
            current: current !== undefined && s.handle === current,
          }),
        );
    },

    async revoke(userId, handle) {
      const uid = normalizeUserId(userId);
      if (typeof handle !== 'string' || !HANDLE_PATTERN.test(handle)) return false;
      try {
        const ended = await Promise.all(
          tagsOf(uid).map((tag) => store.end({ key: store.sessionKey(handle, tag), handle, tag }, uid)),
        );
        return ended.includes(true);
      } catch (error) {
        throw storeError(error, 'revoke a session');
      }
    },

    async revokeAll(userId, options = {}) {
      const uid = normalizeUserId(userId);
      const except = options.except ?? '';
      try {
        const counts = await Promise.all(tagsOf(uid).map((tag) => store.endAll(tag, uid, except)));
        return counts.reduce((sum, n) => sum + Number(n), 0);
      } catch (error) {
        throw storeError(error, 'revoke sessions');
      }
    },
  };
}
