// The response cache's options: their types, documented defaults, and validation into a resolved config.
import type { Request, Response } from 'express';
import {
  checkOptions,
  consoleLogger,
  type Duration,
  durationOption,
  functionOption,
  integerOption,
  type Logger,
  loggerOption,
  nameOption,
  oneOfOption,
  optionNames,
} from '../core/index.js';
import {
  assertRedisClient,
  clientSideCachingOption,
  type RedisClient,
  type RedisErrorPolicy,
  resolveTimeout,
  validatePrefix,
} from '../redis/index.js';
import { resolveCookies, resolveQuery, resolveStatuses, resolveVary } from './list-options.js';
import { resolveTags } from './tags.js';
import { CDN_CACHE_CONTROL, OWN_CACHE_CONTROL } from './targeted.js';

const WHERE = 'responseCache';

/** Options of {@link responseCache}. Every field but `redis` is optional and has the default shown. */
export interface ResponseCacheOptions {
  /** The ioredis client (`Redis` or `Cluster`) that holds the entries. Required. */
  redis: RedisClient;
  /**
   * Names this cache in its keys (`cache:<name>:...`), so caches on one Redis never see each other's entries
   * and `clear()` removes only this cache's keys. Letters, digits, `_`, `-` and `.`.
   * @default 'default'
   */
  name?: string;
  /**
   * How long an entry stays fresh at most. A response's own freshness (`s-maxage`, `max-age` or `Expires`,
   * minus its `Age`) can only shorten it; a response without one stays fresh for `ttl` (unless
   * `explicitFreshness` is set).
   * @default '1m'
   */
  ttl?: Duration;
  /**
   * Store only responses that state their own freshness (`s-maxage`, `max-age` or `Expires`, in the cache's
   * own field, `CDN-Cache-Control` when enabled, or `Cache-Control`); `ttl` is then only the ceiling.
   * Responses without one pass through uncached.
   * @default false (a response without explicit freshness is fresh for `ttl`)
   */
  explicitFreshness?: boolean;
  /**
   * Also read `CDN-Cache-Control` (RFC 9213) for this cache's policy, after the cache's own
   * `Express-Redis-Kit-Cache-Control` and before `Cache-Control`. It is still sent on to clients, for the CDN
   * in front. The cache's own field is always read and never sent to clients.
   * @default false
   */
  cdnCacheControl?: boolean;
  /**
   * How long after `ttl` a stale entry may still be served at once while exactly one request refreshes it in
   * the background (RFC 5861). 0 turns it off. A response's own `stale-while-revalidate` directive replaces
   * it; responses with `must-revalidate`, `proxy-revalidate` or `s-maxage` (and no such directive of their
   * own) are never served stale.
   * @default 0
   */
  staleWhileRevalidate?: Duration;
  /**
   * How long after `ttl` a stale entry may be served instead of a 5xx answer or a thrown handler
   * (RFC 5861). 0 turns it off. A response's own `stale-if-error` directive replaces it; responses with
   * `must-revalidate`, `proxy-revalidate` or `s-maxage` (and no such directive of their own) are never served
   * stale.
   * @default 0
   */
  staleIfError?: Duration;
  /**
   * After a 2xx or 3xx answer to an unsafe request (POST, PUT, PATCH, DELETE or any method but GET, HEAD,
   * OPTIONS and TRACE) that passes through this middleware, remove every entry (all variants and private
   * scopes) of its URL and of same-origin `Location` and `Content-Location` URLs before the response ends
   * (RFC 9111 §4.4). The middleware must see those requests: mount it with `app.use`, `router.all`, or on the
   * unsafe routes too. Set false when you invalidate by tags only.
   * @default true
   */
  invalidateOnUnsafe?: boolean;
  /**
   * The cache key of a request, before hashing. Return `undefined` to not cache this request. It gets the
   * default key as its second argument (only called when the request has a valid Host).
   * @default scheme + host with port + path + the query parameters of `req.originalUrl`, sorted by name
   * (repeated ones keep their order; see `query`). The method is not part of it.
   */
  key?: (req: Request, defaultKey: string) => string | undefined;
  /**
   * The query parameters that select an entry; the others are left out of the key (they should not change
   * the page). Set it on public pages, so random query strings cannot each fill an entry: `['page', 'sort']`,
   * or `[]` when the handler ignores the query. Names are matched as your query parser reads them.
   * @default undefined (every parameter is part of the key)
   */
  query?: readonly string[];
  /**
   * Request headers whose values select a variant: each distinct value gets its own entry. List here the
   * headers your responses vary on (`accept-language`, or `accept-encoding` when compression runs inside the
   * cache). A response that varies on a header not listed is only served to requests with the same value.
   * @default []
   */
  vary?: readonly string[];
  /**
   * Tags of an entry, for `invalidate(tags)`: a list, or a function of the request and the finished
   * response (evaluated once, when the response is stored).
   * @default [] (no tags)
   */
  tags?: readonly string[] | ((req: Request, res: Response) => readonly string[] | undefined);
  /** Largest body that is stored; a bigger response passes through untouched and is not stored. @default 1048576 (1 MiB) */
  maxBodyBytes?: number;
  /** Status codes that may be stored. @default [200, 203, 204, 300, 301, 404, 410] */
  statuses?: readonly number[];
  /**
   * Opt-in per-user caching: a function of the request whose value (hashed) becomes part of the key. When
   * set, requests with `Authorization` or a session cookie are cached per value instead of bypassing the
   * cache; when it returns `undefined`, `null` or `''` for such a request, the request bypasses the cache.
   * @default undefined (requests with credentials bypass the cache)
   */
  privateScope?: (req: Request) => string | undefined | null;
  /**
   * Cookie names (strings, or patterns) that do not make a request private. Any other cookie makes the
   * request bypass the cache (unless `privateScope` is set), whatever the session cookie is called.
   * @default common analytics cookies: `_ga`, `_ga_*`, `_gid`, `_gat*`, `_gcl_*`, `_fbp`, `_fbc`, `_hj*`,
   * `__utm?`, `_pk_id.*`, `_pk_ses.*`, `_clck`, `_clsk`
   */
  publicCookies?: readonly (string | RegExp)[];
  /**
   * Concurrent misses for one key run the handler once: in this process (single-flight) and across
   * instances (a Redis lock; the others wait for its entry).
   * @default true
   */
  coalesce?: boolean;
  /**
   * How long a fill may hold the lock; requests waiting for it go to the handler themselves after this.
   * Also bounds a background refresh.
   * @default '5s'
   */
  lockTimeout?: Duration;
  /** Key prefix. @default 'cache:' */
  prefix?: string;
  /**
   * Deadline of each Redis call made on a request's behalf.
   * @default the client's `commandTimeout`, or 1 s when it sets none
   */
  timeout?: Duration;
  /**
   * When Redis fails or times out: `'fail-open'` answers from the handler (not stored), `'fail-closed'`
   * passes a 503 error to `next()`, to shield an origin that cannot take uncached traffic.
   * @default 'fail-open'
   */
  onRedisError?: RedisErrorPolicy;
  /** Where Redis errors are reported (at most once per 10 s). @default consoleLogger */
  logger?: Logger;
  /** Send the `Cache-Status` response header (RFC 9211). @default true */
  cacheStatus?: boolean;
  /**
   * Serve fresh entries from process memory, kept coherent by Redis server-assisted client-side caching
   * (`CLIENT TRACKING`) on two extra connections: a hit then costs no Redis call. Any change to an entry
   * (an invalidation on any instance, an unsafe request, a new render, a `DEL` by hand) drops the copy as
   * soon as Redis's invalidation arrives, and at once for this instance's own changes; no copy outlives its
   * freshness. Single Redis and Sentinel only (not Cluster). Call `close()` at shutdown.
   * @default false
   */
  clientSideCaching?: boolean | ResponseCacheClientSideCaching;
}

/** Settings of {@link ResponseCacheOptions.clientSideCaching}. */
export interface ResponseCacheClientSideCaching {
  /**
   * Most bytes of entries (bodies and headers, as stored) kept in memory; the oldest copies make room.
   * @default 33554432 (32 MiB)
   */
  maxBytes?: number;
}

/** Default values of {@link ResponseCacheOptions} (the timeout default depends on the client). */
export const DEFAULT_RESPONSE_CACHE_OPTIONS = Object.freeze({
  name: 'default',
  ttl: '1m',
  explicitFreshness: false,
  cdnCacheControl: false,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  invalidateOnUnsafe: true,
  vary: Object.freeze([]) as readonly string[],
  maxBodyBytes: 1_048_576,
  statuses: Object.freeze([200, 203, 204, 300, 301, 404, 410]) as readonly number[],
  publicCookies: Object.freeze([
    '_gid',
    '_fbp',
    '_fbc',
    '_clck',
    '_clsk',
    /^_ga(?:_[A-Za-z0-9]+)?$/,
    /^_gat/,
    /^_gcl_/,
    /^_hj/,
    /^__utm[a-z]$/,
    /^_pk_(?:id|ses)\./,
  ]) as readonly (string | RegExp)[],
  coalesce: true,
  lockTimeout: '5s',
  prefix: 'cache:',
  onRedisError: 'fail-open',
  cacheStatus: true,
  clientSideCaching: false,
} as const);

/** The memory `clientSideCaching: true` may take, and the most it may be given. */
const COPIES_CAPACITY = { name: 'maxBytes', default: 32 * 1_048_576, max: 64 * 1_073_741_824 } as const;

/** The options after validation: every value resolved, durations in milliseconds. */
export interface ResolvedCacheConfig {
  readonly redis: RedisClient;
  readonly name: string;
  readonly ttlMs: number;
  readonly explicitFreshness: boolean;
  /** Lower-case names of the targeted cache-control fields read before Cache-Control, in order. */
  readonly targetedFields: readonly string[];
  readonly staleWhileRevalidateMs: number;
  readonly staleIfErrorMs: number;
  readonly invalidateOnUnsafe: boolean;
  readonly key: ((req: Request, defaultKey: string) => string | undefined) | undefined;
  /** The query parameters that are part of the default key; undefined for all of them. */
  readonly query: ReadonlySet<string> | undefined;
  /** Lower-case names of the `vary` request headers, sorted. */
  readonly vary: readonly string[];
  readonly tags: readonly string[] | ((req: Request, res: Response) => readonly string[] | undefined);
  readonly maxBodyBytes: number;
  readonly statuses: ReadonlySet<number>;
  readonly privateScope: ((req: Request) => string | undefined | null) | undefined;
  readonly publicCookieNames: ReadonlySet<string>;
  readonly publicCookiePatterns: readonly RegExp[];
  readonly coalesce: boolean;
  readonly lockTimeoutMs: number;
  /** `<prefix><name>:`, the start of every key of this cache. */
  readonly keyBase: string;
  readonly timeoutMs: number;
  readonly onRedisError: RedisErrorPolicy;
  readonly logger: Logger;
  readonly cacheStatus: boolean;
  /** Undefined when off. */
  readonly clientSideCaching: { readonly maxBytes: number } | undefined;
}

const KNOWN = optionNames<ResponseCacheOptions>({
  redis: true,
  name: true,
  ttl: true,
  explicitFreshness: true,
  cdnCacheControl: true,
  staleWhileRevalidate: true,
  staleIfError: true,
  invalidateOnUnsafe: true,
  key: true,
  query: true,
  vary: true,
  tags: true,
  maxBodyBytes: true,
  statuses: true,
  privateScope: true,
  publicCookies: true,
  coalesce: true,
  lockTimeout: true,
  prefix: true,
  timeout: true,
  onRedisError: true,
  logger: true,
  cacheStatus: true,
  clientSideCaching: true,
});

/** Validates `options` (throwing a coded `ConfigError` on the first problem) and resolves every default. */
export function resolveOptions(options: unknown): ResolvedCacheConfig {
  // Also catches app.use(responseCache) written without the call. An option set to undefined means its default.
  checkOptions<ResponseCacheOptions>(options, KNOWN, WHERE);
  const o = options;
  const d = DEFAULT_RESPONSE_CACHE_OPTIONS;
  assertRedisClient(o.redis, WHERE);
  const name = nameOption(o.name ?? d.name, 'name', WHERE, 'ERR_CACHE_NAME_INVALID');
  const cdnCacheControl = flag(o.cdnCacheControl ?? d.cdnCacheControl, 'cdnCacheControl');
  return {
    redis: o.redis,
    name,
    ttlMs: durationOption(o.ttl ?? d.ttl, 'ttl', WHERE, { min: 1_000 }),
    explicitFreshness: flag(o.explicitFreshness ?? d.explicitFreshness, 'explicitFreshness'),
    targetedFields: Object.freeze(
      cdnCacheControl ? [OWN_CACHE_CONTROL, CDN_CACHE_CONTROL] : [OWN_CACHE_CONTROL],
    ),
    staleWhileRevalidateMs: durationOption(
      o.staleWhileRevalidate ?? d.staleWhileRevalidate,
      'staleWhileRevalidate',
      WHERE,
      { min: 0 },
    ),
    staleIfErrorMs: durationOption(o.staleIfError ?? d.staleIfError, 'staleIfError', WHERE, { min: 0 }),
    invalidateOnUnsafe: flag(o.invalidateOnUnsafe ?? d.invalidateOnUnsafe, 'invalidateOnUnsafe'),
    key: functionOption<(req: Request, defaultKey: string) => string | undefined>(o.key, 'key', WHERE),
    query: resolveQuery(o.query, WHERE),
    vary: resolveVary(o.vary ?? d.vary, WHERE),
    tags: resolveTags(o.tags, WHERE),
    maxBodyBytes: integerOption(o.maxBodyBytes ?? d.maxBodyBytes, 'maxBodyBytes', WHERE, 0, 256 * 1_048_576),
    statuses: resolveStatuses(o.statuses ?? d.statuses, WHERE),
    privateScope: functionOption<(req: Request) => string | undefined | null>(
      o.privateScope,
      'privateScope',
      WHERE,
    ),
    ...resolveCookies(o.publicCookies ?? d.publicCookies, WHERE),
    coalesce: flag(o.coalesce ?? d.coalesce, 'coalesce'),
    lockTimeoutMs: durationOption(o.lockTimeout ?? d.lockTimeout, 'lockTimeout', WHERE, { min: 100 }),
    keyBase: `${validatePrefix(o.prefix ?? d.prefix, WHERE)}${name}:`,
    timeoutMs: resolveTimeout(o.redis, o.timeout, WHERE),
    onRedisError: oneOfOption(o.onRedisError ?? d.onRedisError, 'onRedisError', WHERE, [
      'fail-open',
      'fail-closed',
    ]),
    // null means the default, as for every other option.
    logger: loggerOption(o.logger ?? undefined, WHERE, consoleLogger),
    cacheStatus: flag(o.cacheStatus ?? d.cacheStatus, 'cacheStatus'),
    clientSideCaching: copiesOf(
      clientSideCachingOption(o.clientSideCaching, o.redis, WHERE, COPIES_CAPACITY),
    ),
  };
}

function copiesOf(maxBytes: number | undefined): ResolvedCacheConfig['clientSideCaching'] {
  return maxBytes === undefined ? undefined : Object.freeze({ maxBytes });
}

function flag(value: unknown, name: string): boolean {
  return oneOfOption(value, name, WHERE, [true, false]);
}
