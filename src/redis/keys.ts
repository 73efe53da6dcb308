// Builds Redis key names: a prefix, hash tags for keys that multi-key operations touch together, and safe parts.
import { hash } from 'node:crypto';
import { ConfigError } from '../core/errors.js';

/** Longest untrusted value kept readable in a key; longer ones are hashed so a huge header makes no huge key. */
const MAX_READABLE_PART = 128;

/** Printable ASCII without space, braces (hash-tag syntax) or `#` (the marker of hashed parts). */
const READABLE = /^[\x21-\x22\x24-\x7a\x7c\x7e]*$/;

/**
 * Checks a key prefix at app start. A prefix must be a non-empty string without braces, so the hash tags that
 * the middlewares add are the ones Redis Cluster sees.
 */
export function validatePrefix(prefix: unknown, where: string): string {
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 64) {
    throw new ConfigError(
      'ERR_PREFIX_INVALID',
      `${where}: \`prefix\` must be a string of 1 to 64 characters.`,
    );
  }
  if (prefix.includes('{') || prefix.includes('}')) {
    throw new ConfigError(
      'ERR_PREFIX_INVALID',
      `${where}: \`prefix\` must not contain '{' or '}': the middleware adds its own hash tags for Redis Cluster.`,
    );
  }
  return prefix;
}

/**
 * Makes an untrusted value (an IP, a route, a user id) safe to put in a key: short printable values stay as
 * they are, anything else becomes `#` + a SHA-256 in base64url. `#` never appears in a value kept as is, so a
 * client cannot pick a raw value that collides with another's hashed one.
 */
export function keyPart(value: string): string {
  if (value.length <= MAX_READABLE_PART && READABLE.test(value)) return value;
  return `#${sha256(value)}`;
}

/**
 * Wraps a value in a hash tag: Redis Cluster hashes only what is between the first `{` and the next `}`, so
 * every key built with the same tag lands in the same slot and one script can touch them all.
 */
export function hashTag(value: string): string {
  return `{${keyPart(value)}}`;
}

/**
 * SHA-256 of a string, in base64url (43 characters). The one-shot `crypto.hash` (every Node this package
 * supports has it) skips the Hash object, which matters on hot paths that hash per request.
 */
export function sha256(value: string): string {
  return hash('sha256', value, 'base64url');
}

/** Joins a prefix and parts with `:`; the prefix is expected to end with its own separator (e.g. `'rl:'`). */
export function buildKey(prefix: string, ...parts: string[]): string {
  return prefix + parts.join(':');
}
