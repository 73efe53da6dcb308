// The response cache at work: lookup, hits, coalesced fills, background refreshes, and the admin operations.
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NextFunction, Request, Response } from 'express';
import {
  createErrorReporter,
  hashTag,
  type RedisCaller,
  type RedisErrorReporter,
  RedisUnavailableError,
  redisCaller,
  registerScript,
  type ScriptRunner,
} from '../redis/index.js';
import { ResponseCapture } from './capture.js';
import { CACHE_NAME, NO_GENERATION } from './constants.js';
import { hasCredentials } from './credentials.js';
import { type DecodedEntry, decodeEntry, KIND_ENTRY, KIND_MARKER } from './entry.js';
import { Fill } from './fill.js';
import { UnsafeInvalidator } from './invalidate.js';
import { acceptsCoding, defaultKey, entryHash, normalizedHeader, varyKeyPart } from './key.js';
import type { ResolvedCacheConfig } from './options.js';
import { stripOwnField } from './own-field.js';
import { ENTRY_PUT, LOCK_RELEASE, TAG_ADD } from './scripts.js';
import { hitStatus, sendEntry } from './serve.js';
import type { CacheOutcome, ResponseCacheStats } from './types.js';

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;

/** A fill in progress in this process; requests for the same key wait for its result. */
export interface Flight {
  readonly promise: Promise<Buffer | undefined>;
  resolve(value: Buffer | undefined): void;
  timer: NodeJS.Timeout | undefined;
}

/** Thrown to `next()` under `onRedisError: 'fail-closed'` when Redis cannot be reached. */
export class CacheUnavailableError extends Error {
  override readonly name = 'CacheUnavailableError';
  readonly code = 'ERR_CACHE_UNAVAILABLE';
  readonly status = 503;
  readonly statusCode = 503;
  readonly expose = true;

  constructor(cause: unknown) {
    super('The response cache is unavailable', { cause });
  }
}

export class CacheEngine {
  readonly cfg: ResolvedCacheConfig;
  readonly client: ResolvedCacheConfig['client'];
  readonly report: RedisErrorReporter;
  private readonly caller: RedisCaller;
  readonly entryPut: ScriptRunner<number>;
  readonly lockRelease: ScriptRunner<number>;
  readonly tagAdd: ScriptRunner<number>;
  /** How long invalidation records and tombstones live; renders longer than this are not stored. */
  readonly retention: number;
  /** How much longer than its entries a tag set lives (covers the gap between adding the tag and the SET). */
  readonly tagMargin: number;
  /** TTL of a hit-for-miss marker. */
  readonly markerTtl: number;
  readonly generationKey: string;
  readonly flights = new Map<string, Flight>();
  readonly refreshing = new Set<string>();
  readonly counters: Omit<ResponseCacheStats, 'hitRatio'> = {
    hits: 0,
    stale: 0,
    misses: 0,
    collapsed: 0,
    bypass: 0,
    stored: 0,
    errors: 0,
  };
  readonly keyOf: (req: Request) => string | undefined;
  readonly invalidator: UnsafeInvalidator;
  private readonly instance = randomBytes(6).toString('base64url');
  private sequence = 0;
  private readonly warnedVary = new Set<string>();
  private readonly status: {
    readonly bypass: string | undefined;
    readonly method: string | undefined;
    readonly miss: string | undefined;
    readonly uncacheable: string | undefined;
    readonly varyMiss: string | undefined;
    readonly redisError: string | undefined;
    readonly collapsed: string | undefined;
  };

  constructor(cfg: ResolvedCacheConfig) {
    this.cfg = cfg;
    this.client = cfg.client;
    this.report = createErrorReporter(cfg.logger);
    this.caller = redisCaller(cfg.client, cfg.timeout);
    this.entryPut = registerScript(cfg.client, ENTRY_PUT);
    this.lockRelease = registerScript(cfg.client, LOCK_RELEASE);
    this.tagAdd = registerScript(cfg.client, TAG_ADD);
    this.retention = Math.max(5 * 60_000, 2 * cfg.lockTimeout);
    this.tagMargin = 60_000 + cfg.lockTimeout;
    this.markerTtl = Math.min(cfg.ttl, 30_000);
    this.generationKey = `${cfg.keyBase}g`;
    const query = cfg.query;
    const key = cfg.key;
    this.keyOf =
      key === undefined
        ? (req) => defaultKey(req, query)
        : (req) => {
            const standard = defaultKey(req, query);
            return standard === undefined ? undefined : key(req, standard);
          };
    this.invalidator = new UnsafeInvalidator(this);
    const s = (text: string) => (cfg.cacheStatus ? `${CACHE_NAME}; ${text}` : undefined);
    this.status = {
      bypass: s('fwd=bypass'),
      method: s('fwd=method'),
      miss: s('fwd=miss'),
      uncacheable: s('fwd=miss; detail=uncacheable'),
      varyMiss: s('fwd=vary-miss'),
      redisError: s('fwd=miss; detail=redis-error'),
      collapsed: s('fwd=miss; collapsed'),
    };
  }

  // --- keys --------------------------------------------------------------------------------------------

  entryKey(hash: string): string {
    return `${this.cfg.keyBase}e:${hash}`;
  }

  lockKey(hash: string): string {
    return `${this.cfg.keyBase}l:${hash}`;
  }

  /** The set of a URL's variant and private-scope entries, with its invalidation count (see scripts.ts). */
  variantSetKey(hash: string): string {
    return `${this.cfg.keyBase}u:${hash.slice(0, hash.indexOf('}') + 1)}`;
  }

  tagKeys(tag: string): [string, string] {
    const slot = hashTag(tag);
    return [`${this.cfg.keyBase}t:${slot}`, `${this.cfg.keyBase}i:${slot}`];
  }

  /**
   * One Redis call within the cache's timeout. After a timeout or a lost connection, calls on this client
   * (from every middleware) fail at once for a moment, so an outage costs one timeout, not one per request.
   */
  call<T>(run: () => Promise<T>): Promise<T> {
    return this.caller.call(run);
  }

  nextToken(): string {
    this.sequence = (this.sequence + 1) % Number.MAX_SAFE_INTEGER;
    return `${this.instance}:${this.sequence.toString(36)}`;
  }

  // --- the request path --------------------------------------------------------------------------------

  /** The middleware body. Never throws: user-function errors go to `next(error)`. */
  handle(req: Request, res: Response, next: NextFunction): void {
    const method = req.method;
    const cfg = this.cfg;
    if (method !== 'GET' && method !== 'HEAD') {
      // RFC 9111 §4.4: OPTIONS and TRACE are safe; every other method, known or not, may change the resource.
      if (cfg.invalidateOnUnsafe && method !== 'OPTIONS' && method !== 'TRACE') {
        let key: string | undefined;
        try {
          key = this.keyOf(req);
        } catch (error) {
          next(error);
          return;
        }
        this.invalidator.watch(req, res, key);
      }
      this.pass(req, res, next, 'bypass', this.status.method);
      return;
    }
    let hash: string;
    let key: string | undefined;
    try {
      let scope: string | undefined;
      if (hasCredentials(req, cfg.publicCookieNames, cfg.publicCookiePatterns)) {
        const value = cfg.privateScope === undefined ? undefined : cfg.privateScope(req);
        if (value === undefined || value === null || value === '') {
          this.pass(req, res, next, 'bypass', this.status.bypass);
          return;
        }
        scope = String(value);
      } else if (cfg.privateScope !== undefined) {
        const value = cfg.privateScope(req);
        if (value !== undefined && value !== null && value !== '') scope = String(value);
      }
      key = this.keyOf(req);
      if (typeof key !== 'string') {
        this.pass(req, res, next, 'bypass', this.status.bypass);
        return;
      }
      hash = entryHash(key, cfg.vary.length === 0 ? '' : varyKeyPart(req, cfg.vary), scope);
    } catch (error) {
      next(error);
      return;
    }
    this.lookup(req, res, next, hash, key).catch((error: unknown) => this.internalError(error, res, next));
  }

  private async lookup(
    req: Request,
    res: Response,
    next: NextFunction,
    hash: string,
    key: string,
  ): Promise<void> {
    const entryKey = this.entryKey(hash);
    let buf: Buffer | null;
    try {
      buf = await this.call(() => this.client.getBuffer(entryKey));
    } catch (error) {
      this.redisFailed(error, 'lookup');
      this.degraded(req, res, next, error);
      return;
    }
    const now = Date.now();
    let stale: DecodedEntry | undefined;
    let hitForMiss = false;
    if (buf !== null && buf.length > 0) {
      if (buf[0] === KIND_ENTRY) {
        const entry = tryDecode(buf);
        if (entry !== undefined) {
          if (entry.vary.length > 0 && !this.varyMatches(entry, req)) {
            this.pass(req, res, next, 'miss', this.status.varyMiss);
            return;
          }
          if (now < entry.freshUntil) {
            this.counters.hits++;
            req.responseCache = 'hit';
            const status = this.cfg.cacheStatus ? hitStatus(CACHE_NAME, entry, now) : undefined;
            sendEntry(req, res, entry, now, status, res.writeHead as Method, res.end as Method);
            return;
          }
          if (now < entry.swrUntil) {
            this.serveStale(req, res, next, entry, now, hash, key);
            return;
          }
          if (now < entry.sieUntil) stale = entry;
        }
      } else if (buf[0] === KIND_MARKER) {
        hitForMiss = true;
      }
    }
    if (req.method === 'HEAD') {
      this.pass(req, res, next, 'miss', this.status.miss);
      return;
    }
    await this.fill(req, res, next, hash, key, stale, hitForMiss);
  }

  /** Serves a stale entry at once; the first request for it (here and on other instances) refreshes it. */
  private serveStale(
    req: Request,
    res: Response,
    next: NextFunction,
    entry: DecodedEntry,
    now: number,
    hash: string,
    key: string,
  ): void {
    this.counters.stale++;
    req.responseCache = 'stale';
    const refresh = req.method === 'GET' && !this.refreshing.has(hash);
    const before = refresh ? res.getHeaders() : undefined;
    const status = this.cfg.cacheStatus
      ? `${CACHE_NAME}; fwd=stale; ttl=${Math.floor((entry.freshUntil - now) / 1_000)}; detail=stale-while-revalidate`
      : undefined;
    sendEntry(req, res, entry, now, status, res.writeHead as Method, res.end as Method);
    if (before === undefined) return;
    this.refreshing.add(hash);
    this.refresh(req, res, next, hash, key, before).catch((error: unknown) => {
      this.refreshing.delete(hash);
      this.report(error, 'responseCache refresh');
    });
  }

  /**
   * Runs the rest of the route for a stale entry, after its response went out, on a virtual response that
   * is captured and stored; only the holder of the Redis lock does it, so exactly one refresh runs.
   */
  private async refresh(
    req: Request,
    res: Response,
    next: NextFunction,
    hash: string,
    key: string,
    before: ReturnType<Response['getHeaders']>,
  ): Promise<void> {
    const token = this.nextToken();
    const startedAt = performance.now();
    const [locked, generation, urlCount] = await this.lockAndGeneration(hash, token);
    if (!locked || generation === NO_GENERATION) {
      this.refreshing.delete(hash);
      return;
    }
    // Node finishes with a response when it emits 'close'; virtualising earlier would confuse its bookkeeping.
    if (!res.closed) await new Promise((resolve) => res.once('close', resolve));
    const fill = new Fill(this, req, res, hash, key, {
      token,
      generation,
      urlCount,
      startedAt,
      stale: undefined,
      flight: undefined,
      virtual: true,
      markers: false,
    });
    const capture = new ResponseCapture(res, fill, true, before, this.cfg.maxBodyBytes);
    fill.watch(capture);
    next();
  }

  /** A miss: fill the entry, or wait for the fill already running here or on another instance. */
  private async fill(
    req: Request,
    res: Response,
    next: NextFunction,
    hash: string,
    key: string,
    stale: DecodedEntry | undefined,
    hitForMiss: boolean,
  ): Promise<void> {
    const coalesce = this.cfg.coalesce && !hitForMiss;
    if (coalesce) {
      const running = this.flights.get(hash);
      if (running !== undefined) {
        const shared = await running.promise;
        if (shared !== undefined && this.serveShared(req, res, shared)) return;
        // The fill we waited for stored nothing we may use: render without waiting again.
        await this.renderUncoalesced(req, res, next, hash, key, stale);
        return;
      }
    }
    if (!coalesce) {
      await this.renderUncoalesced(req, res, next, hash, key, stale, hitForMiss);
      return;
    }
    const flight = this.openFlight(hash);
    let token: string | undefined = this.nextToken();
    const startedAt = performance.now();
    const [locked, generation, urlCount] = await this.lockAndGeneration(hash, token);
    if (!locked) {
      token = undefined;
      if (generation !== NO_GENERATION) {
        const filled = await this.waitForFill(hash);
        if (filled !== undefined && this.serveShared(req, res, filled)) {
          this.settleFlight(hash, flight, filled);
          return;
        }
      }
    }
    this.render(req, res, next, hash, key, {
      token,
      generation,
      urlCount,
      startedAt,
      stale,
      flight,
      virtual: false,
      markers: true,
    });
  }

  private async renderUncoalesced(
    req: Request,
    res: Response,
    next: NextFunction,
    hash: string,
    key: string,
    stale: DecodedEntry | undefined,
    hitForMiss = false,
  ): Promise<void> {
    const startedAt = performance.now();
    const [generation, urlCount] = await this.readGeneration(hash);
    this.render(
      req,
      res,
      next,
      hash,
      key,
      {
        token: undefined,
        generation,
        urlCount,
        startedAt,
        stale,
        flight: undefined,
        virtual: false,
        markers: false,
      },
      hitForMiss ? this.status.uncacheable : this.status.miss,
    );
  }

  private render(
    req: Request,
    res: Response,
    next: NextFunction,
    hash: string,
    key: string,
    options: ConstructorParameters<typeof Fill>[5],
    status: string | undefined = this.status.miss,
  ): void {
    this.counters.misses++;
    req.responseCache = 'miss';
    if (options.flight !== undefined) this.armFlight(hash, options.flight);
    const before = res.getHeaders();
    if (status !== undefined) res.setHeader('cache-status', status);
    const fill = new Fill(this, req, res, hash, key, options);
    fill.watch(new ResponseCapture(res, fill, false, before, this.cfg.maxBodyBytes));
    next();
  }

  /** Serves an entry another request filled; false when it does not fit this request (Vary). */
  private serveShared(req: Request, res: Response, buf: Buffer): boolean {
    const entry = tryDecode(buf);
    if (entry === undefined || (entry.vary.length > 0 && !this.varyMatches(entry, req))) return false;
    this.counters.collapsed++;
    req.responseCache = 'collapsed';
    sendEntry(req, res, entry, Date.now(), this.status.collapsed, res.writeHead as Method, res.end as Method);
    return true;
  }

  /**
   * Takes the fill lock and reads the invalidation generation and the URL's invalidation count in one go
   * (three commands, sent together; lock and count share the URL's slot).
   */
  private async lockAndGeneration(hash: string, token: string): Promise<[boolean, number, string]> {
    try {
      const [lock, generation, count] = await Promise.all([
        this.call(() => this.client.set(this.lockKey(hash), token, 'PX', this.cfg.lockTimeout, 'NX')),
        this.call(() => this.client.get(this.generationKey)),
        this.call(() => this.client.hget(this.variantSetKey(hash), '!')),
      ]);
      return [lock === 'OK', parseGeneration(generation), count ?? '0'];
    } catch (error) {
      this.redisFailed(error, 'lock');
      return [false, NO_GENERATION, '0'];
    }
  }

  private async readGeneration(hash: string): Promise<[number, string]> {
    try {
      const [generation, count] = await Promise.all([
        this.call(() => this.client.get(this.generationKey)),
        this.call(() => this.client.hget(this.variantSetKey(hash), '!')),
      ]);
      return [parseGeneration(generation), count ?? '0'];
    } catch (error) {
      this.redisFailed(error, 'generation');
      return [NO_GENERATION, '0'];
    }
  }

  /**
   * Waits for another instance's fill: polls (lock, then entry, in one pipeline on their shared slot) with
   * backoff until a fresh entry appears, the lock is gone, a marker says the URL is uncacheable, or
   * lockTimeout passes.
   */
  private async waitForFill(hash: string): Promise<Buffer | undefined> {
    const entryKey = this.entryKey(hash);
    const lockKey = this.lockKey(hash);
    const deadline = Date.now() + this.cfg.lockTimeout;
    let delay = 10;
    while (Date.now() < deadline) {
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
      let replies: [Error | null, unknown][] | null;
      try {
        replies = await this.call(() => this.client.pipeline().exists(lockKey).getBuffer(entryKey).exec());
      } catch (error) {
        this.redisFailed(error, 'wait');
        return undefined;
      }
      const held = replies?.[0]?.[1] === 1;
      const value = replies?.[1]?.[1];
      if (Buffer.isBuffer(value) && value.length > 0) {
        if (value[0] === KIND_MARKER) return undefined;
        if (value[0] === KIND_ENTRY) {
          const entry = tryDecode(value);
          if (entry !== undefined && Date.now() < entry.freshUntil) return value;
        }
      }
      if (!held) return undefined;
    }
    return undefined;
  }

  private openFlight(hash: string): Flight {
    let resolve: (value: Buffer | undefined) => void = () => {};
    const promise = new Promise<Buffer | undefined>((r) => {
      resolve = r;
    });
    // No timer yet: until it renders, the holder is bounded by the Redis timeout and by lockTimeout.
    const flight: Flight = { promise, resolve, timer: undefined };
    this.flights.set(hash, flight);
    return flight;
  }

  /** Waiters never wait longer than a render may hold the lock: then they go to the handler themselves. */
  private armFlight(hash: string, flight: Flight): void {
    flight.timer = setTimeout(expireFlight, this.cfg.lockTimeout, this, hash, flight);
    flight.timer.unref();
  }

  /** Ends a flight: waiters get `value` (an entry they may serve) or undefined (go to the handler). */
  settleFlight(hash: string, flight: Flight, value: Buffer | undefined): void {
    if (flight.timer !== undefined) clearTimeout(flight.timer);
    flight.timer = undefined;
    if (this.flights.get(hash) === flight) this.flights.delete(hash);
    flight.resolve(value);
  }

  varyMatches(entry: DecodedEntry, req: Request): boolean {
    const vary = entry.vary;
    for (let i = 0; i < vary.length; i += 2) {
      const name = vary[i] as string;
      if (name === 'accept-encoding') {
        if (!acceptsCoding(req.headers['accept-encoding'], contentEncoding(entry))) return false;
      } else if (normalizedHeader(name, req.headers[name]) !== vary[i + 1]) {
        return false;
      }
    }
    return true;
  }

  /** Warns once per header name that responses vary on a header missing from the `vary` option. */
  warnVary(name: string): void {
    if (this.warnedVary.has(name) || name === 'accept-encoding') return;
    this.warnedVary.add(name);
    this.cfg.logger.warn(
      `responseCache '${this.cfg.name}': responses vary on '${name}', which is not in the \`vary\` option; ` +
        'an entry is then only served to requests with the same value. Add it to `vary` to cache each variant.',
    );
  }

  redisFailed(error: unknown, operation: string): void {
    // A call refused without asking Redis (known to be unreachable) was already counted when it failed.
    if (error instanceof RedisUnavailableError) return;
    this.counters.errors++;
    this.report(error, `responseCache ${operation}`);
  }

  /** Lets a request through without the cache (it is not stored). */
  private pass(
    req: Request,
    res: Response,
    next: NextFunction,
    outcome: CacheOutcome,
    status: string | undefined,
  ): void {
    if (outcome === 'bypass') this.counters.bypass++;
    else this.counters.misses++;
    req.responseCache = outcome;
    stripOwnField(res);
    if (status !== undefined) res.setHeader('cache-status', status);
    next();
  }

  /** Redis failed or is in its quiet period: the handler answers, nothing is stored (or 503 if fail-closed). */
  private degraded(req: Request, res: Response, next: NextFunction, error: unknown): void {
    req.responseCache = 'error';
    if (this.cfg.failClosed) {
      next(new CacheUnavailableError(error));
      return;
    }
    this.counters.misses++;
    stripOwnField(res);
    if (this.status.redisError !== undefined) res.setHeader('cache-status', this.status.redisError);
    next();
  }

  private internalError(error: unknown, res: Response, next: NextFunction): void {
    this.cfg.logger.error('responseCache: unexpected error', { error });
    if (!res.headersSent) next(error);
  }

  stats(): ResponseCacheStats {
    const c = this.counters;
    const served = c.hits + c.stale + c.collapsed;
    const total = served + c.misses;
    return { ...c, hitRatio: total === 0 ? 0 : served / total };
  }
}

function expireFlight(engine: CacheEngine, hash: string, flight: Flight): void {
  flight.timer = undefined;
  engine.settleFlight(hash, flight, undefined);
}

function tryDecode(buf: Buffer): DecodedEntry | undefined {
  try {
    return decodeEntry(buf);
  } catch {
    return undefined;
  }
}

function parseGeneration(value: string | null): number {
  const n = value === null ? 0 : Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

function contentEncoding(entry: DecodedEntry): string {
  const headers = entry.headers;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'content-encoding') {
      const v = headers[i + 1];
      return (typeof v === 'string' ? v : (v?.[0] ?? '')).trim().toLowerCase();
    }
  }
  return '';
}
