// The response cache's request path: lookup, hits, stale answers, coalesced fills and background refreshes.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { NextFunction, Request, Response } from 'express';
import { requestValue } from '../core/index.js';
import { type ForwardStatus, forwardStatus, hitStatus, staleWhileRevalidateStatus } from './cache-status.js';
import { ResponseCapture } from './capture.js';
import { NO_GENERATION } from './constants.js';
import { hasCredentials } from './credentials.js';
import { type DecodedEntry, KIND_ENTRY, KIND_MARKER, tryDecodeEntry } from './entry.js';
import { CacheUnavailableError } from './errors.js';
import { Fill, type FillHost, type FillOptions } from './fill.js';
import { UnsafeInvalidator } from './invalidate.js';
import { entryHash, type KeyOf, keyFunction, varyKeyPart, varyMatches } from './key.js';
import type { ResolvedCacheConfig } from './options.js';
import { stripOwnField } from './own-field.js';
import { serveEntry } from './serve.js';
import { SingleFlight } from './single-flight.js';
import { CacheStore } from './store.js';
import type { CacheCounters, CacheOutcome, CacheRequest, ResponseCacheStats } from './types.js';

/** One middleware instance: what `responseCache()` returns calls {@link handle} for every request. */
export class CacheEngine implements FillHost {
  readonly config: ResolvedCacheConfig;
  readonly store: CacheStore;
  readonly flights: SingleFlight;
  readonly refreshing = new Set<string>();
  readonly outcome = requestValue<CacheOutcome>('responseCache');
  readonly counters: CacheCounters = {
    hits: 0,
    stale: 0,
    misses: 0,
    collapsed: 0,
    bypass: 0,
    stored: 0,
    errors: 0,
  };
  readonly #keyOf: KeyOf;
  readonly #invalidator: UnsafeInvalidator;
  readonly #instance = randomBytes(6).toString('base64url');
  #sequence = 0;
  readonly #warnedVary = new Set<string>();
  readonly #status: ForwardStatus;

  constructor(config: ResolvedCacheConfig) {
    this.config = config;
    this.store = new CacheStore(config, this.counters);
    this.flights = new SingleFlight(config.lockTimeoutMs);
    this.#keyOf = keyFunction(config.query, config.key);
    this.#invalidator = new UnsafeInvalidator(this.store, this.#keyOf);
    this.#status = forwardStatus(config.cacheStatus);
  }

  /** The middleware body. Never throws: user-function errors go to `next(error)`. */
  handle(req: Request, res: Response, next: NextFunction): void {
    const method = req.method;
    const config = this.config;
    if (method !== 'GET' && method !== 'HEAD') {
      // RFC 9111 §4.4: OPTIONS and TRACE are safe; every other method, known or not, may change the resource.
      if (config.invalidateOnUnsafe && method !== 'OPTIONS' && method !== 'TRACE') {
        let key: string | undefined;
        try {
          key = this.#keyOf(req);
        } catch (error) {
          next(error);
          return;
        }
        this.#invalidator.watch(req, res, key);
      }
      this.#pass(req, res, next, 'bypass', this.#status.method);
      return;
    }
    let hash: string;
    let key: string | undefined;
    try {
      let scope: string | undefined;
      if (hasCredentials(req, config.publicCookieNames, config.publicCookiePatterns)) {
        const value = config.privateScope === undefined ? undefined : config.privateScope(req);
        if (value === undefined || value === null || value === '') {
          this.#pass(req, res, next, 'bypass', this.#status.bypass);
          return;
        }
        scope = String(value);
      } else if (config.privateScope !== undefined) {
        const value = config.privateScope(req);
        if (value !== undefined && value !== null && value !== '') scope = String(value);
      }
      key = this.#keyOf(req);
      if (typeof key !== 'string') {
        this.#pass(req, res, next, 'bypass', this.#status.bypass);
        return;
      }
      hash = entryHash(key, config.vary.length === 0 ? '' : varyKeyPart(req, config.vary), scope);
    } catch (error) {
      next(error);
      return;
    }
    // With clientSideCaching, a fresh entry nobody has changed is already in memory: no Redis call.
    const copy = this.store.copyOf(hash);
    if (copy !== undefined && (copy.vary.length === 0 || varyMatches(copy, req))) {
      const now = Date.now();
      if (now < copy.freshUntil) {
        this.#serveHit(req, res, copy, now);
        return;
      }
    }
    void this.#lookup({ req, res, next, hash, key });
  }

  /** Counters of this process since creation. */
  stats(): ResponseCacheStats {
    const c = this.counters;
    const served = c.hits + c.stale + c.collapsed;
    const total = served + c.misses;
    return { ...c, hitRatio: total === 0 ? 0 : served / total };
  }

  /** Warns once per header name that responses vary on a header missing from the `vary` option. */
  warnVary(name: string): void {
    if (this.#warnedVary.has(name) || name === 'accept-encoding') return;
    this.#warnedVary.add(name);
    this.config.logger.warn(
      `responseCache '${this.config.name}': responses vary on '${name}', which is not in the \`vary\` option; ` +
        'an entry is then only served to requests with the same value. Add it to `vary` to cache each variant.',
    );
  }

  /** Never rejects: an unexpected error is logged and goes to `next(error)` while the response is unsent. */
  async #lookup(r: CacheRequest): Promise<void> {
    try {
      const { req, res, next } = r;
      let buf: Buffer | null;
      try {
        buf = await this.store.read(r.hash);
      } catch (error) {
        this.store.failed(error, 'lookup');
        this.#degraded(req, res, next, error);
        return;
      }
      const now = Date.now();
      let stale: DecodedEntry | undefined;
      let hitForMiss = false;
      if (buf !== null && buf.length > 0) {
        if (buf[0] === KIND_ENTRY) {
          const entry = tryDecodeEntry(buf);
          if (entry !== undefined) {
            if (entry.vary.length > 0 && !varyMatches(entry, req)) {
              this.#pass(req, res, next, 'miss', this.#status.varyMiss);
              return;
            }
            if (now < entry.freshUntil) {
              this.#serveHit(req, res, entry, now);
              return;
            }
            if (now < entry.swrUntil) {
              this.#serveStale(r, entry, now);
              return;
            }
            if (now < entry.sieUntil) stale = entry;
          }
        } else if (buf[0] === KIND_MARKER) {
          hitForMiss = true;
        }
      }
      if (req.method === 'HEAD') {
        this.#pass(req, res, next, 'miss', this.#status.miss);
        return;
      }
      await this.#fill(r, stale, hitForMiss);
    } catch (error) {
      this.config.logger.error('responseCache: unexpected error', { error });
      if (!r.res.headersSent) r.next(error);
    }
  }

  #serveHit(req: Request, res: Response, entry: DecodedEntry, now: number): void {
    this.counters.hits++;
    this.outcome.set(req, 'hit');
    const status = this.config.cacheStatus ? hitStatus(entry, now) : undefined;
    serveEntry(req, res, entry, now, status);
  }

  /** Serves a stale entry at once; the first request for it (here and on other instances) refreshes it. */
  #serveStale(r: CacheRequest, entry: DecodedEntry, now: number): void {
    const { req, res, hash } = r;
    this.counters.stale++;
    this.outcome.set(req, 'stale');
    const refresh = req.method === 'GET' && !this.refreshing.has(hash);
    const before = refresh ? res.getHeaders() : undefined;
    const status = this.config.cacheStatus ? staleWhileRevalidateStatus(entry, now) : undefined;
    serveEntry(req, res, entry, now, status);
    if (before === undefined) return;
    this.refreshing.add(hash);
    this.#refresh(r, before).catch((error: unknown) => {
      this.refreshing.delete(hash);
      this.store.report(error, 'responseCache refresh');
    });
  }

  /**
   * Runs the rest of the route for a stale entry, after its response went out, on a virtual response that
   * is captured and stored; only the holder of the Redis lock does it, so exactly one refresh runs.
   */
  async #refresh(r: CacheRequest, before: ReturnType<Response['getHeaders']>): Promise<void> {
    const res = r.res;
    const token = this.#nextToken();
    const startedAt = performance.now();
    const [locked, generation, urlCount] = await this.store.lockAndGeneration(r.hash, token);
    if (!locked || generation === NO_GENERATION) {
      this.refreshing.delete(r.hash);
      return;
    }
    // Node finishes with a response when it emits 'close'; virtualising earlier would confuse its bookkeeping.
    if (!res.closed) await new Promise((resolve) => res.once('close', resolve));
    const fill = new Fill(this, r, {
      token,
      generation,
      urlCount,
      startedAt,
      stale: undefined,
      flight: undefined,
      virtual: true,
      markers: false,
    });
    fill.watch(new ResponseCapture(res, fill, true, before, this.config.maxBodyBytes));
    r.next();
  }

  /** A miss: fill the entry, or wait for the fill already running here or on another instance. */
  async #fill(r: CacheRequest, stale: DecodedEntry | undefined, hitForMiss: boolean): Promise<void> {
    const hash = r.hash;
    const coalesce = this.config.coalesce && !hitForMiss;
    if (coalesce) {
      const running = this.flights.running(hash);
      if (running !== undefined) {
        const shared = await running;
        if (shared !== undefined && this.#serveShared(r, shared)) return;
        // The fill we waited for stored nothing we may use: render without waiting again.
        await this.#renderUncoalesced(r, stale, false);
        return;
      }
    }
    if (!coalesce) {
      await this.#renderUncoalesced(r, stale, hitForMiss);
      return;
    }
    const flight = this.flights.open(hash);
    let token: string | undefined = this.#nextToken();
    const startedAt = performance.now();
    const [locked, generation, urlCount] = await this.store.lockAndGeneration(hash, token);
    if (!locked) {
      token = undefined;
      if (generation !== NO_GENERATION) {
        const filled = await this.store.waitForFill(hash);
        if (filled !== undefined && this.#serveShared(r, filled)) {
          this.flights.settle(hash, flight, filled);
          return;
        }
      }
    }
    this.#render(
      r,
      { token, generation, urlCount, startedAt, stale, flight, virtual: false, markers: true },
      this.#status.miss,
    );
  }

  async #renderUncoalesced(
    r: CacheRequest,
    stale: DecodedEntry | undefined,
    hitForMiss: boolean,
  ): Promise<void> {
    const startedAt = performance.now();
    const [generation, urlCount] = await this.store.readGeneration(r.hash);
    const status = hitForMiss ? this.#status.uncacheable : this.#status.miss;
    const options: FillOptions = {
      token: undefined,
      generation,
      urlCount,
      startedAt,
      stale,
      flight: undefined,
      virtual: false,
      markers: false,
    };
    this.#render(r, options, status);
  }

  #render(r: CacheRequest, options: FillOptions, status: string | undefined): void {
    const { req, res } = r;
    this.counters.misses++;
    this.outcome.set(req, 'miss');
    if (options.flight !== undefined) this.flights.arm(r.hash, options.flight);
    const before = res.getHeaders();
    if (status !== undefined) res.setHeader('cache-status', status);
    const fill = new Fill(this, r, options);
    fill.watch(new ResponseCapture(res, fill, false, before, this.config.maxBodyBytes));
    r.next();
  }

  /** Serves an entry another request filled; false when it does not fit this request (Vary). */
  #serveShared(r: CacheRequest, buf: Buffer): boolean {
    const { req, res } = r;
    const entry = tryDecodeEntry(buf);
    if (entry === undefined || (entry.vary.length > 0 && !varyMatches(entry, req))) return false;
    this.counters.collapsed++;
    this.outcome.set(req, 'collapsed');
    serveEntry(req, res, entry, Date.now(), this.#status.collapsed);
    return true;
  }

  /** Lets a request through without the cache (it is not stored). */
  #pass(
    req: Request,
    res: Response,
    next: NextFunction,
    outcome: CacheOutcome,
    status: string | undefined,
  ): void {
    if (outcome === 'bypass') this.counters.bypass++;
    else this.counters.misses++;
    this.outcome.set(req, outcome);
    stripOwnField(res);
    if (status !== undefined) res.setHeader('cache-status', status);
    next();
  }

  /** Redis failed or is in its quiet period: the handler answers, nothing is stored (or 503 if fail-closed). */
  #degraded(req: Request, res: Response, next: NextFunction, error: unknown): void {
    this.outcome.set(req, 'error');
    if (this.config.onRedisError === 'fail-closed') {
      next(new CacheUnavailableError(error));
      return;
    }
    this.counters.misses++;
    stripOwnField(res);
    if (this.#status.redisError !== undefined) res.setHeader('cache-status', this.#status.redisError);
    next();
  }

  /** A fill lock token unique to this process and fill. */
  #nextToken(): string {
    this.#sequence = (this.#sequence + 1) % Number.MAX_SAFE_INTEGER;
    return `${this.#instance}:${this.#sequence.toString(36)}`;
  }
}
