// One fill: decides whether the captured response may be stored, stores it with its tags, releases the lock.

import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestValue } from '../core/index.js';
import { staleIfErrorStatus } from './cache-status.js';
import type { ResponseCapture } from './capture.js';
import { NO_GENERATION } from './constants.js';
import { type DecodedEntry, type EntryData, packEntry } from './entry.js';
import { normalizedHeader, strongEtag } from './key.js';
import type { ResolvedCacheConfig } from './options.js';
import {
  noneMatch,
  notModifiedSince,
  responseVerdict,
  storedHeaders,
  type Verdict,
  varyNames,
} from './policy.js';
import { withoutRefreshedCookies } from './refreshed-cookies.js';
import type { ResponseMethod } from './response-method.js';
import { sendEntry } from './serve.js';
import type { Flight, SingleFlight } from './single-flight.js';
import type { CacheStore, RenderStart } from './store.js';
import { entryTags } from './tags.js';
import { OWN_CACHE_CONTROL } from './targeted.js';
import type { CacheCounters, CacheOutcome, CacheRequest } from './types.js';

/** What a fill needs of the cache it fills. */
export interface FillHost {
  readonly config: ResolvedCacheConfig;
  readonly store: CacheStore;
  readonly counters: CacheCounters;
  readonly flights: SingleFlight;
  /** Entries being refreshed in the background in this process. */
  readonly refreshing: Set<string>;
  /** `req.responseCache`. */
  readonly outcome: RequestValue<CacheOutcome>;
  warnVary(name: string): void;
}

/** How a fill began, and what it may do besides storing. */
export interface FillOptions extends RenderStart {
  /** A stale entry to answer with instead of a 5xx (stale-if-error). */
  readonly stale: DecodedEntry | undefined;
  /** The in-process flight whose waiters get this fill's entry. */
  readonly flight: Flight | undefined;
  /** A background refresh on a virtual response. */
  readonly virtual: boolean;
  /** May leave a hit-for-miss marker when the response turns out uncacheable. */
  readonly markers: boolean;
}

/** One render on its way to becoming an entry: the sink of its response's capture. */
export class Fill {
  readonly #host: FillHost;
  readonly #request: CacheRequest;
  readonly #options: FillOptions;
  #verdict: Verdict | undefined;
  /** Status and fields as they were when the app committed them: later changes (a 304 answer, a compression
   * middleware's Content-Encoding for its own output) must not end up in the entry. */
  #status = 0;
  #headers: OutgoingHttpHeaders = {};
  #vary: [string, string][] = [];
  /** Cache-Status as it was before "stored" was added to it. */
  #cacheStatus: string | undefined;
  readonly #ifNoneMatch: string | undefined;
  readonly #ifModifiedSince: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the request reached the cache: an upstream's `Age` is corrected by the time since (RFC 9111 §4.2.3). */
  readonly #requestTime = Date.now();

  constructor(host: FillHost, request: CacheRequest, options: FillOptions) {
    this.#host = host;
    this.#request = request;
    this.#options = options;
    // The handler must render the full response to store it; the cache answers the validators itself.
    const headers = request.req.headers;
    this.#ifNoneMatch = headers['if-none-match'];
    this.#ifModifiedSince = headers['if-modified-since'];
    if (this.#ifNoneMatch !== undefined) delete headers['if-none-match'];
    if (this.#ifModifiedSince !== undefined) delete headers['if-modified-since'];
  }

  /** Bounds a background refresh: a handler slower than lockTimeout is abandoned. */
  watch(capture: ResponseCapture): void {
    if (!this.#options.virtual) return;
    this.#timer = setTimeout(abandon, this.#host.config.lockTimeoutMs, capture);
    this.#timer.unref();
  }

  onHeaders(capture: ResponseCapture): void {
    const { req, res } = this.#request;
    const options = this.#options;
    const now = Date.now();
    const status = capture.status;
    const headers = capture.headers();
    const verdict = this.#decide(status, headers, capture, now);
    // The cache's own field is for the cache alone (RFC 9213): clients never get it.
    if (!options.virtual && headers[OWN_CACHE_CONTROL] !== undefined) res.removeHeader(OWN_CACHE_CONTROL);
    this.#verdict = verdict;
    this.#status = status;
    this.#headers = headers;
    const stale = options.stale;
    if (!verdict.store && stale !== undefined && status >= 500 && now < stale.sieUntil && !options.virtual) {
      const counters = this.#host.counters;
      counters.misses--;
      counters.stale++;
      this.#host.outcome.set(req, 'stale');
      const cacheStatus = this.#host.config.cacheStatus ? staleIfErrorStatus(stale, now, status) : undefined;
      this.#restoreValidators();
      capture.replaceWith((writeHead: ResponseMethod, end: ResponseMethod) =>
        sendEntry(req, res, stale, now, cacheStatus, writeHead, end),
      );
      return;
    }
    capture.storing = verdict.store;
    if (options.virtual) return;
    let etag = res.getHeader('etag');
    if (verdict.store) {
      if (etag === undefined && capture.pendingBody !== undefined) {
        etag = strongEtag(capture.pendingBody);
        res.setHeader('etag', etag);
        headers.etag = etag;
      }
      const cacheStatus = res.getHeader('cache-status');
      if (typeof cacheStatus === 'string') {
        this.#cacheStatus = cacheStatus;
        res.setHeader('cache-status', `${cacheStatus}; stored`);
      }
    }
    if (status === 200 && this.#validatorsMatch(typeof etag === 'string' ? etag : undefined)) {
      capture.answerNotModified();
    }
  }

  /**
   * The fields that actually leave, after every other middleware's `writeHead` hook: a `Set-Cookie`,
   * `Cache-Control: private` or `Vary: *` added there stops the store (and the URL gets its hit-for-miss
   * marker), a shorter lifetime shortens the entry. What the client gets is not changed, except that its
   * Cache-Status no longer says "stored".
   */
  onFinalHeaders(capture: ResponseCapture, fields: OutgoingHttpHeaders, flushing: boolean): void {
    const before = this.#verdict;
    if (before === undefined || !before.store) return;
    // The cache took its own field off the response before it left; it still decides the entry.
    const own = this.#headers[OWN_CACHE_CONTROL];
    const final =
      own === undefined || fields[OWN_CACHE_CONTROL] !== undefined
        ? fields
        : { ...fields, [OWN_CACHE_CONTROL]: own };
    const verdict = this.#decide(this.#status, final, capture, Date.now());
    if (verdict.store) {
      this.#verdict = {
        store: true,
        ttl: Math.min(verdict.ttl, before.ttl),
        age: Math.max(verdict.age, before.age),
        swr: Math.min(verdict.swr, before.swr),
        sie: Math.min(verdict.sie, before.sie),
      };
      return;
    }
    this.#verdict = verdict;
    capture.storing = false;
    if (flushing && this.#cacheStatus !== undefined)
      this.#request.res.setHeader('cache-status', this.#cacheStatus);
  }

  onDone(capture: ResponseCapture, complete: boolean, reason: string): void {
    this.#restoreValidators();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (complete) {
      this.#store(capture).catch((error: unknown) => {
        this.#host.config.logger.error('responseCache: could not store a response', { error });
        this.#finish(undefined);
      });
      return;
    }
    const verdict = this.#verdict;
    const options = this.#options;
    const marker =
      options.markers &&
      this.#host.config.coalesce &&
      options.generation !== NO_GENERATION &&
      (reason === 'too-large' || (reason === 'not-stored' && verdict?.store === false && verdict.marker));
    this.#host.store.release(this.#request.hash, options.token, marker);
    this.#finish(undefined);
  }

  /** Whether a response with these fields may be stored; also collects the Vary pairs it is stored under. */
  #decide(status: number, headers: OutgoingHttpHeaders, capture: ResponseCapture, now: number): Verdict {
    const config = this.#host.config;
    const req = this.#request.req;
    const fields = withoutRefreshedCookies(headers, req, now);
    const verdict = responseVerdict(
      status,
      fields,
      config,
      capture.pendingBody?.length,
      now,
      this.#requestTime,
    );
    if (!verdict.store || headers.vary === undefined) return verdict;
    const pairs: [string, string][] = [];
    for (const name of varyNames(headers.vary)) {
      if (config.vary.includes(name)) continue;
      pairs.push([name, normalizedHeader(name, req.headers[name])]);
      this.#host.warnVary(name);
    }
    this.#vary = pairs;
    if (pairs.length > 255 || pairs.some(([n, v]) => n.length > 255 || v.length > 65_535)) {
      return { store: false, reason: 'vary', marker: true };
    }
    return verdict;
  }

  #restoreValidators(): void {
    const headers = this.#request.req.headers;
    if (this.#ifNoneMatch !== undefined) headers['if-none-match'] = this.#ifNoneMatch;
    if (this.#ifModifiedSince !== undefined) headers['if-modified-since'] = this.#ifModifiedSince;
  }

  #validatorsMatch(etag: string | undefined): boolean {
    if (this.#ifNoneMatch !== undefined) return etag !== undefined && noneMatch(this.#ifNoneMatch, etag);
    if (this.#ifModifiedSince === undefined) return false;
    const lastModified = this.#request.res.getHeader('last-modified');
    return notModifiedSince(
      this.#ifModifiedSince,
      typeof lastModified === 'string' ? lastModified : undefined,
    );
  }

  async #store(capture: ResponseCapture): Promise<void> {
    const { req, res, hash, key } = this.#request;
    const host = this.#host;
    const options = this.#options;
    const verdict = this.#verdict;
    const tags =
      verdict?.store === true ? entryTags(host.config.tags, req, res, host.config.logger, key) : undefined;
    if (verdict === undefined || !verdict.store || tags === undefined) {
      host.store.release(hash, options.token, false);
      this.#finish(undefined);
      return;
    }
    const body = capture.body();
    const headers = storedHeaders(this.#headers, capture.before);
    let etag = '';
    for (const [name, value] of headers) if (name === 'etag' && typeof value === 'string') etag = value;
    if (etag === '') {
      etag = strongEtag(body);
      headers.push(['etag', etag]);
    }
    const now = Date.now();
    const entry: EntryData = {
      status: this.#status,
      // Hits send Age = now - storedAt: counting from when the response was made keeps its age from upstream.
      storedAt: Math.max(0, now - verdict.age),
      freshUntil: now + verdict.ttl,
      swrUntil: now + verdict.ttl + verdict.swr,
      sieUntil: now + verdict.ttl + verdict.sie,
      headers,
      etag,
      vary: this.#vary,
      tags,
      url: key,
      body,
    };
    const packed = packEntry(entry);
    if (options.generation === NO_GENERATION) {
      // Redis failed before the render: nothing goes to Redis, but waiters in this process may use it.
      this.#finish(packed);
      return;
    }
    const pxMs = verdict.ttl + Math.max(verdict.swr, verdict.sie);
    const stored = await host.store.save(hash, packed, tags, pxMs, options);
    if (stored) host.counters.stored++;
    this.#finish(stored ? packed : undefined);
  }

  #finish(shared: Buffer | undefined): void {
    const options = this.#options;
    const hash = this.#request.hash;
    if (options.flight !== undefined) this.#host.flights.settle(hash, options.flight, shared);
    if (options.virtual) this.#host.refreshing.delete(hash);
  }
}

function abandon(capture: ResponseCapture): void {
  capture.abandon();
}
