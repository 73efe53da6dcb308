// Session ids, user tags and handles: what the cookie carries and what Redis keys are derived from.
import { createHmac, randomBytes } from 'node:crypto';
import { sha256 } from '../redis/index.js';
import { SessionError } from './errors.js';

/** Random bytes per id: 192 bits from the CSPRNG, 32 base64url characters. */
const ID_BYTES = 24;
/** Characters of a user tag: 22 base64url characters, 132 bits of an HMAC. */
export const TAG_LENGTH = 22;
const RANDOM_LENGTH = 32;
/** Length of a signed-in session's id: `<tag>.<random>`. */
const USER_ID_LENGTH = TAG_LENGTH + 1 + RANDOM_LENGTH;

/** A well-formed id: `<random>` for an anonymous session, `<tag>.<random>` for a signed-in one. */
export const ID_PATTERN = /^(?:[A-Za-z0-9_-]{22}\.)?[A-Za-z0-9_-]{32}$/;

/** A new id for an anonymous session. */
export function newId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/**
 * A new id for a session of the user whose tag is `tag`. Embedding the tag lets a request find the session's
 * key, which lives in the user's hash slot, from the cookie alone.
 */
export function newUserSessionId(tag: string): string {
  return `${tag}.${randomBytes(ID_BYTES).toString('base64url')}`;
}

/** The user tag embedded in a signed-in session's id, or undefined for an anonymous id. */
export function tagOfId(id: string): string | undefined {
  return id.length === USER_ID_LENGTH ? id.slice(0, TAG_LENGTH) : undefined;
}

/**
 * The opaque tag of a user: a keyed hash of the user id, so neither cookies nor Redis keys reveal the user id,
 * and nobody without the secret can compute which slot holds a given user's sessions.
 */
export function userTag(tagKey: Buffer, userId: string): string {
  return createHmac('sha256', tagKey).update(userId).digest('base64url').slice(0, TAG_LENGTH);
}

/**
 * The public handle of a session: SHA-256 of its id. It names the session in Redis and in device lists; it
 * cannot be turned back into the id, so showing it (or a Redis dump) gives nobody a usable cookie.
 */
export function handleOf(id: string): string {
  return sha256(id);
}

/** A well-formed handle (what `revoke` accepts). */
export const HANDLE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Longest user id accepted (it is stored in each of the user's sessions). */
const MAX_USER_ID = 256;

/** User ids are stored as strings: a non-empty string of at most 256 characters, or a finite number. */
export function normalizeUserId(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_USER_ID) return value;
  throw new SessionError(
    'ERR_SESSION_USER_ID',
    `A user id must be a non-empty string of at most ${MAX_USER_ID} characters or a finite number.`,
  );
}
