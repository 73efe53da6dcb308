// Tags of an entry: checked where they come in, from `invalidate()` and from the `tags` option's function.
import type { Request, Response } from 'express';
import { type Logger, optionError } from '../core/index.js';
import type { ResolvedCacheConfig } from './options.js';

/** Most tags one entry may carry (each is a Redis call when it is stored). */
const MAX_TAGS = 64;

/** A tag: a non-empty string of at most 256 characters. */
export function isTag(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256;
}

/**
 * Throws a ConfigError (`ERR_CACHE_TAGS_INVALID`, as for the `tags` option) unless `value` is a tag or a list
 * of tags; returns the list without duplicates.
 */
export function validateTags(value: unknown, where: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every(isTag)) {
    throw optionError(
      'ERR_CACHE_TAGS_INVALID',
      where,
      'tags',
      'a tag or a list of tags (non-empty strings of at most 256 characters)',
      value,
    );
  }
  return [...new Set(list)];
}

/** The `tags` option: a list of tags, a function returning one, or none. */
export function resolveTags(value: unknown, where: string): ResolvedCacheConfig['tags'] {
  if (value === undefined) return Object.freeze([]);
  if (typeof value === 'function') return value as ResolvedCacheConfig['tags'];
  if (Array.isArray(value) && value.every(isTag)) {
    return Object.freeze([...new Set(value)]);
  }
  throw optionError(
    'ERR_CACHE_TAGS_INVALID',
    where,
    'tags',
    'a list of non-empty strings (at most 256 characters) or a function returning one',
    value,
  );
}

/**
 * The tags of the entry for `req`, or undefined (not stored) when the `tags` function throws or returns
 * something else than a list of at most 64 valid tags; `url` names the entry in the logged error.
 */
export function entryTags(
  option: ResolvedCacheConfig['tags'],
  req: Request,
  res: Response,
  logger: Logger,
  url: string,
): string[] | undefined {
  if (typeof option !== 'function') return option as string[];
  let value: unknown;
  try {
    value = option(req, res);
  } catch (error) {
    logger.error('responseCache: the `tags` function threw; the response was not stored', { error });
    return undefined;
  }
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_TAGS || !value.every(isTag)) {
    logger.error(
      `responseCache: the \`tags\` function must return at most ${MAX_TAGS} non-empty strings of at most 256 characters; the response was not stored`,
      { url },
    );
    return undefined;
  }
  return [...new Set(value)];
}
