// The sessions middleware's options, their defaults, and their validation into a fully resolved config.
import { createHmac } from 'node:crypto';
import type { Request } from 'express';
import {
  checkOptions,
  consoleLogger,
  type Duration,
  durationOption,
  formatDuration,
  functionOption,
  integerOption,
  type Logger,
  loggerOption,
  oneOfOption,
  optionError,
  optionNames,
  secretsOption,
} from '../core/index.js';
import {
  assertRedisClient,
  clientSideCachingOption,
  type RedisClient,
  resolveTimeout,
  validatePrefix,
} from '../redis/index.js';
import { bindFingerprint } from './bind.js';
import {
  cookieNameOption,
  DEFAULT_COOKIE_OPTIONS,
  type ResolvedCookieAttributes,
  resolveCookie,
  type SessionCookieOptions,
} from './cookie-options.js';

export type { ResolvedCookieAttributes, SessionCookieOptions } from './cookie-options.js';

const WHERE = 'session';

/**
 * Ties a session to a property of the client that set it. On a mismatch the session is destroyed and a warning
 * is logged. `'user-agent'`: the User-Agent header; `'ip-prefix'`: the client's /24 (IPv4) or /48 (IPv6)
 * network, from `req.ip`; a function: any string you derive from the request.
 */
export type SessionBind = false | 'user-agent' | 'ip-prefix' | ((req: Request) => string);

/** What the middleware does when Redis fails or does not answer in time while loading a session. */
export type SessionRedisErrorPolicy = 'fail-closed' | 'anonymous';

/** Options of {@link session}. */
export interface SessionOptions {
  /** The ioredis client (`Redis` or `Cluster`). Required. */
  redis: RedisClient;
  /**
   * The secrets that sign the cookie, each at least 32 characters. The first signs; all of them verify, so you
   * rotate by putting a new secret first and keeping the old one until its cookies have expired. A cookie
   * verified by an older secret is re-signed with the first one.
   */
  secret: string | readonly string[];
  /**
   * The cookie's name: a generic one, so it does not advertise the framework.
   * @default 'sid'
   */
  cookieName?: string;
  /**
   * Cookie attributes. The lifetime is not among them: `Max-Age` always equals the session's remaining
   * lifetime in Redis (`idleTimeout`, or per session `req.session.cookie.maxAge` for "remember me").
   * @default { httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/' }
   */
  cookie?: SessionCookieOptions;
  /**
   * Inactivity after which a session ends. Every request slides it (see `touchAfter`).
   * @default '30m'
   */
  idleTimeout?: Duration;
  /**
   * Lifetime of a session from its creation (or sign-in), never extended by activity.
   * @default '7d'
   */
  absoluteTimeout?: Duration;
  /**
   * Slide the idle timeout at most once per this interval. `0` slides on every request. A larger value saves
   * Redis writes and `Set-Cookie` headers for chatty clients, at the cost of an idle timeout that may end up
   * to `touchAfter` earlier than exact. Must be shorter than `idleTimeout`.
   * @default 0
   */
  touchAfter?: Duration;
  /**
   * Serve returning visitors' sessions from process memory between two slides (see `touchAfter`, which must be
   * above zero), kept coherent by Redis server-assisted client-side caching (`CLIENT TRACKING`) on two extra
   * connections. A change made anywhere (a write, a sign-out, a revocation from another server) drops the copy
   * as soon as Redis's invalidation arrives, and a copy is never served longer than `touchAfter`, even if an
   * invalidation were lost. Single Redis and Sentinel only (not Cluster). Call `close()` at shutdown.
   * @default false
   */
  clientSideCaching?: boolean | ClientSideCachingOptions;
  /**
   * Key prefix in Redis.
   * @default 'sess:'
   */
  prefix?: string;
  /**
   * Binds a session to the client that created it (see {@link SessionBind}). Off by default: user agents
   * change on browser updates and IP prefixes on mobile networks, so binding logs people out.
   * @default false
   */
  bind?: SessionBind;
  /**
   * Most signed-in sessions one user may have; when a new sign-in would exceed it, the oldest is ended.
   * `undefined` means no limit.
   * @default undefined
   */
  maxSessionsPerUser?: number;
  /**
   * When loading the session fails: `'fail-closed'` passes a {@link SessionError} (status 503) to `next(err)`;
   * `'anonymous'` lets the request go on with an empty session that is not saved.
   * @default 'fail-closed'
   */
  onRedisError?: SessionRedisErrorPolicy;
  /**
   * Where warnings go (Redis errors at most once per 10 s, binding mismatches).
   * @default consoleLogger
   */
  logger?: Logger;
  /**
   * Deadline of each Redis call. By default the client's own `commandTimeout` applies, or 1 s when it has none.
   * @default undefined
   */
  timeout?: Duration;
}

/** Settings of {@link SessionOptions.clientSideCaching}. */
export interface ClientSideCachingOptions {
  /**
   * Most sessions kept in memory; the oldest copy makes room for a new one.
   * @default 10000
   */
  maxSessions?: number;
}

/** The defaults of every optional field of {@link SessionOptions}. */
export const DEFAULT_SESSION_OPTIONS = Object.freeze({
  cookieName: 'sid',
  cookie: DEFAULT_COOKIE_OPTIONS,
  idleTimeout: '30m',
  absoluteTimeout: '7d',
  touchAfter: 0,
  clientSideCaching: false,
  prefix: 'sess:',
  bind: false,
  maxSessionsPerUser: undefined,
  onRedisError: 'fail-closed',
  logger: consoleLogger,
  timeout: undefined,
} as const satisfies Required<Omit<SessionOptions, 'redis' | 'secret' | 'maxSessionsPerUser' | 'timeout'>> &
  Pick<SessionOptions, 'maxSessionsPerUser' | 'timeout'>);

/** {@link SessionOptions} checked and resolved: what the middleware reads at request time. */
export interface ResolvedSessionConfig {
  readonly redis: RedisClient;
  /** Per secret, the key that signs cookies (derived, so the secret itself keys nothing else). */
  readonly signKeys: readonly Buffer[];
  /** Per secret, the key of the user tag that places a user's sessions in one hash slot. */
  readonly tagKeys: readonly Buffer[];
  readonly cookieName: string;
  /** `; Path=/; HttpOnly; SameSite=Lax` and so on: every attribute except the lifetime and `Secure`. */
  readonly cookieAttributes: string;
  /** The same attributes as values, for `req.session.cookie`. */
  readonly cookie: ResolvedCookieAttributes;
  readonly secure: boolean | 'auto';
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly touchAfterMs: number;
  /** Undefined when off. */
  readonly clientSideCaching: { readonly maxSessions: number } | undefined;
  readonly prefix: string;
  readonly bind: ((req: Request) => string) | undefined;
  /** 0 = no limit. */
  readonly maxSessionsPerUser: number;
  readonly onRedisError: SessionRedisErrorPolicy;
  readonly logger: Logger;
  /** 0 = the client enforces its own timeout. */
  readonly timeoutMs: number;
}

const OPTION_NAMES = optionNames<SessionOptions>({
  redis: true,
  secret: true,
  cookieName: true,
  cookie: true,
  idleTimeout: true,
  absoluteTimeout: true,
  touchAfter: true,
  clientSideCaching: true,
  prefix: true,
  bind: true,
  maxSessionsPerUser: true,
  onRedisError: true,
  logger: true,
  timeout: true,
});

const MIN_IDLE_MS = 1_000;

/** Checks `options` (throwing a coded ConfigError on the first problem) and resolves every default. */
export function resolveOptions(options: unknown): ResolvedSessionConfig {
  checkOptions<SessionOptions>(options, OPTION_NAMES, WHERE);
  assertRedisClient(options.redis, WHERE);
  const redis = options.redis;
  const secrets = secretsOption(options.secret, 'secret', WHERE, 'ERR_SESSION_SECRET');
  const d = DEFAULT_SESSION_OPTIONS;

  const cookieName = cookieNameOption(options.cookieName ?? d.cookieName);
  const cookie = resolveCookie(options.cookie, cookieName);
  const { idleMs, absoluteMs, touchAfterMs } = resolveTimeouts(options);
  const maxSessionsPerUser =
    options.maxSessionsPerUser === undefined
      ? 0
      : integerOption(options.maxSessionsPerUser, 'maxSessionsPerUser', WHERE, 1, 10_000);

  return Object.freeze({
    redis,
    signKeys: secrets.map((s) => deriveKey(s, 'cookie-signature')),
    tagKeys: secrets.map((s) => deriveKey(s, 'user-tag')),
    cookieName,
    cookieAttributes: cookie.attributes,
    cookie: cookie.values,
    secure: cookie.secure,
    idleMs,
    absoluteMs,
    touchAfterMs,
    clientSideCaching: resolveClientSideCaching(options.clientSideCaching, redis, touchAfterMs),
    prefix: validatePrefix(options.prefix ?? d.prefix, WHERE),
    bind: resolveBind(options.bind),
    maxSessionsPerUser,
    onRedisError: oneOfOption(options.onRedisError ?? d.onRedisError, 'onRedisError', WHERE, [
      'fail-closed',
      'anonymous',
    ] as const),
    logger: loggerOption(options.logger, WHERE, d.logger),
    timeoutMs: resolveTimeout(redis, options.timeout, WHERE),
  });
}

/** The three timeouts, each checked against the idle timeout: the slide must come before the session ends. */
function resolveTimeouts(options: Partial<SessionOptions>): {
  idleMs: number;
  absoluteMs: number;
  touchAfterMs: number;
} {
  const d = DEFAULT_SESSION_OPTIONS;
  const idleMs = durationOption(options.idleTimeout ?? d.idleTimeout, 'idleTimeout', WHERE, {
    min: MIN_IDLE_MS,
  });
  const absolute = options.absoluteTimeout ?? d.absoluteTimeout;
  const absoluteMs = durationOption(absolute, 'absoluteTimeout', WHERE, { min: 0 });
  if (absoluteMs < idleMs) {
    const requirement = `at least \`idleTimeout\` (${formatDuration(idleMs)})`;
    throw optionError('ERR_OPTION_RANGE', WHERE, 'absoluteTimeout', requirement, absolute);
  }
  const touchAfter = options.touchAfter ?? d.touchAfter;
  const touchAfterMs = durationOption(touchAfter, 'touchAfter', WHERE, { min: 0 });
  if (touchAfterMs >= idleMs) {
    const requirement = `shorter than \`idleTimeout\` (${formatDuration(idleMs)}), or sessions expire between touches`;
    throw optionError('ERR_OPTION_RANGE', WHERE, 'touchAfter', requirement, touchAfter);
  }
  return { idleMs, absoluteMs, touchAfterMs };
}

/** How many sessions `clientSideCaching` keeps in memory: its one field, its default and its largest value. */
const SESSION_COPIES = { name: 'maxSessions', default: 10_000, max: 10_000_000 } as const;

/** The shared `clientSideCaching` option, which sessions can only serve between two slides (`touchAfter`). */
function resolveClientSideCaching(
  value: unknown,
  redis: RedisClient,
  touchAfterMs: number,
): ResolvedSessionConfig['clientSideCaching'] {
  const maxSessions = clientSideCachingOption(value, redis, WHERE, SESSION_COPIES);
  if (maxSessions === undefined) return undefined;
  if (touchAfterMs === 0) {
    const requirement =
      "used with a `touchAfter` above zero (e.g. '1m'): with 0 every request slides the session in Redis";
    throw optionError('ERR_OPTION_VALUE', WHERE, 'clientSideCaching', requirement, value);
  }
  return Object.freeze({ maxSessions });
}

/** A purpose-specific key, so the cookie signature and the user tag never share a key. */
function deriveKey(secret: string, purpose: string): Buffer {
  return createHmac('sha256', secret).update(`express-redis-kit session ${purpose}`).digest();
}

function resolveBind(value: unknown): ((req: Request) => string) | undefined {
  if (typeof value === 'function') return functionOption<(req: Request) => string>(value, 'bind', WHERE);
  const kind = oneOfOption(value ?? false, 'bind', WHERE, [false, 'user-agent', 'ip-prefix'] as const);
  return kind === false ? undefined : bindFingerprint(kind);
}
