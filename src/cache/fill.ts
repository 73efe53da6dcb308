// One fill: decides whether the captured response may be stored, stores it with its tags, releases the lock.

import type { OutgoingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Request, Response } from 'express';
import type { ResponseCapture } from './capture.js';
import { CACHE_NAME, NO_GENERATION } from './constants.js';
import type { CacheEngine, Flight } from './engine.js';
import { type DecodedEntry, type EntryData, MARKER_VALUE, packEntry } from './entry.js';
import { normalizedHeader, strongEtag } from './key.js';
import {
  noneMatch,
  notModifiedSince,
  responseVerdict,
  storedHeaders,
  type Verdict,
  varyNames,
} from './policy.js';
import { withoutRefreshedCookies } from './refreshed-cookies.js';
import { sendEntry } from './serve.js';
import { OWN_CACHE_CONTROL } from './targeted.js';

const MAX_TAGS = 64;

export interface FillOptions {
  /** The fill lock's token when this fill holds it. */
  readonly token: string | undefined;
  /** The invalidation generation read before the render began, or NO_GENERATION when Redis failed. */
  readonly generation: number;
  /** The URL's invalidation count read before the render began ('0' when never invalidated). */
  readonly urlCount: string;
  /** `performance.now()` when that generation was requested: the render's start for invalidation purposes. */
  readonly startedAt: number;
  /** A stale entry to answer with instead of a 5xx (stale-if-error). */
  readonly stale: DecodedEntry | undefined;
  /** The in-process flight whose waiters get this fill's entry. */
  readonly flight: Flight | undefined;
  /** A background refresh on a virtual response. */
  readonly virtual: boolean;
  /** May leave a hit-for-miss marker when the response turns out uncacheable. */
  readonly markers: boolean;
}

type Method = Parameters<Parameters<ResponseCapture['replaceWith']>[0]>[0];

export class Fill {
  private readonly engine: CacheEngine;
  private readonly req: Request;
  private readonly res: Response;
  private readonly hash: string;
  private readonly key: string;
  private readonly options: FillOptions;
  private verdict: Verdict | undefined;
  /** Status and fields as they were when the app committed them: later changes (a 304 answer, a compression
   * middleware's Content-Encoding for its own output) must not end up in the entry. */
  private status = 0;
  private headers: OutgoingHttpHeaders = {};
  private vary: [string, string][] = [];
  /** Cache-Status as it was before "stored" was added to it. */
  private cacheStatus: string | undefined;
  private ifNoneMatch: string | undefined;
  private ifModifiedSince: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the request reached the cache: an upstream's `Age` is corrected by the time since (RFC 9111 §4.2.3). */
  private readonly requestTime = Date.now();

  constructor(
    engine: CacheEngine,
    req: Request,
    res: Response,
    hash: string,
    key: string,
    options: FillOptions,
  ) {
    this.engine = engine;
    this.req = req;
    this.res = res;
    this.hash = hash;
    this.key = key;
    this.options = options;
    // The handler must render the full response to store it; the cache answers the validators itself.
    const headers = req.headers;
    this.ifNoneMatch = headers['if-none-match'];
    this.ifModifiedSince = headers['if-modified-since'];
    if (this.ifNoneMatch !== undefined) delete headers['if-none-match'];
    if (this.ifModifiedSince !== undefined) delete headers['if-modified-since'];
  }

  /** Bounds a background refresh: a handler slower than lockTimeout is abandoned. */
  watch(capture: ResponseCapture): void {
    if (!this.options.virtual) return;
    this.timer = setTimeout(abandon, this.engine.cfg.lockTimeout, capture);
    this.timer.unref();
  }

  onHeaders(capture: ResponseCapture): void {
    const engine = this.engine;
    const cfg = engine.cfg;
    const res = this.res;
    const now = Date.now();
    const status = capture.status;
    const headers = capture.headers();
    const verdict = this.decide(status, headers, capture, now);
    // The cache's own field is for the cache alone (RFC 9213): clients never get it.
    if (!this.options.virtual && headers[OWN_CACHE_CONTROL] !== undefined)
      res.removeHeader(OWN_CACHE_CONTROL);
    this.verdict = verdict;
    this.status = status;
    this.headers = headers;
    const stale = this.options.stale;
    if (
      !verdict.store &&
      stale !== undefined &&
      status >= 500 &&
      now < stale.sieUntil &&
      !this.options.virtual
    ) {
      engine.counters.misses--;
      engine.counters.stale++;
      this.req.responseCache = 'stale';
      const cacheStatus = cfg.cacheStatus
        ? `${CACHE_NAME}; fwd=stale; fwd-status=${status}; ttl=${Math.floor((stale.freshUntil - now) / 1_000)}; detail=stale-if-error`
        : undefined;
      this.restoreValidators();
      capture.replaceWith((writeHead: Method, end: Method) =>
        sendEntry(this.req, res, stale, now, cacheStatus, writeHead, end),
      );
      return;
    }
    capture.storing = verdict.store;
    if (this.options.virtual) return;
    let etag = res.getHeader('etag');
    if (verdict.store) {
      if (etag === undefined && capture.pendingBody !== undefined) {
        etag = strongEtag(capture.pendingBody);
        res.setHeader('etag', etag);
        headers.etag = etag;
      }
      const cacheStatus = res.getHeader('cache-status');
      if (typeof cacheStatus === 'string') {
        this.cacheStatus = cacheStatus;
        res.setHeader('cache-status', `${cacheStatus}; stored`);
      }
    }
    if (status === 200 && this.validatorsMatch(typeof etag === 'string' ? etag : undefined)) {
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
    const before = this.verdict;
    if (before === undefined || !before.store) return;
    // The cache took its own field off the response before it left; it still decides the entry.
    const own = this.headers[OWN_CACHE_CONTROL];
    const final =
      own === undefined || fields[OWN_CACHE_CONTROL] !== undefined
        ? fields
        : { ...fields, [OWN_CACHE_CONTROL]: own };
    const verdict = this.decide(this.status, final, capture, Date.now());
    if (verdict.store) {
      this.verdict = {
        store: true,
        ttl: Math.min(verdict.ttl, before.ttl),
        age: Math.max(verdict.age, before.age),
        swr: Math.min(verdict.swr, before.swr),
        sie: Math.min(verdict.sie, before.sie),
      };
      return;
    }
    this.verdict = verdict;
    capture.storing = false;
    if (flushing && this.cacheStatus !== undefined) this.res.setHeader('cache-status', this.cacheStatus);
  }

  /** Whether a response with these fields may be stored; also collects the Vary pairs it is stored under. */
  private decide(
    status: number,
    headers: OutgoingHttpHeaders,
    capture: ResponseCapture,
    now: number,
  ): Verdict {
    const cfg = this.engine.cfg;
    const fields = withoutRefreshedCookies(headers, this.req, now);
    const verdict = responseVerdict(status, fields, cfg, capture.pendingBody?.length, now, this.requestTime);
    if (!verdict.store || headers.vary === undefined) return verdict;
    const pairs: [string, string][] = [];
    for (const name of varyNames(headers.vary)) {
      if (cfg.vary.includes(name)) continue;
      pairs.push([name, normalizedHeader(name, this.req.headers[name])]);
      this.engine.warnVary(name);
    }
    this.vary = pairs;
    if (pairs.length > 255 || pairs.some(([n, v]) => n.length > 255 || v.length > 65_535)) {
      return { store: false, reason: 'vary', marker: true };
    }
    return verdict;
  }

  onDone(capture: ResponseCapture, complete: boolean, reason: string): void {
    this.restoreValidators();
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (complete) {
      this.store(capture).catch((error: unknown) => {
        this.engine.cfg.logger.error('responseCache: could not store a response', { error });
        this.finish(undefined);
      });
      return;
    }
    const verdict = this.verdict;
    const marker =
      this.options.markers &&
      this.engine.cfg.coalesce &&
      this.options.generation !== NO_GENERATION &&
      (reason === 'too-large' || (reason === 'not-stored' && verdict?.store === false && verdict.marker));
    this.release(marker);
    this.finish(undefined);
  }

  private restoreValidators(): void {
    const headers = this.req.headers;
    if (this.ifNoneMatch !== undefined) headers['if-none-match'] = this.ifNoneMatch;
    if (this.ifModifiedSince !== undefined) headers['if-modified-since'] = this.ifModifiedSince;
  }

  private validatorsMatch(etag: string | undefined): boolean {
    if (this.ifNoneMatch !== undefined) return etag !== undefined && noneMatch(this.ifNoneMatch, etag);
    if (this.ifModifiedSince === undefined) return false;
    const lastModified = this.res.getHeader('last-modified');
    return notModifiedSince(
      this.ifModifiedSince,
      typeof lastModified === 'string' ? lastModified : undefined,
    );
  }

  private async store(capture: ResponseCapture): Promise<void> {
    const engine = this.engine;
    const verdict = this.verdict;
    if (verdict === undefined || !verdict.store) {
      this.release(false);
      this.finish(undefined);
      return;
    }
    const tags = this.resolveTags();
    if (tags === undefined) {
      this.release(false);
      this.finish(undefined);
      return;
    }
    const body = capture.body();
    const headers = storedHeaders(this.headers, capture.before);
    let etag = '';
    for (const [name, value] of headers) if (name === 'etag' && typeof value === 'string') etag = value;
    if (etag === '') {
      etag = strongEtag(body);
      headers.push(['etag', etag]);
    }
    const now = Date.now();
    const swr = verdict.swr;
    const sie = verdict.sie;
    const entry: EntryData = {
      status: this.status,
      // Hits send Age = now - storedAt: counting from when the response was made keeps its age from upstream.
      storedAt: Math.max(0, now - verdict.age),
      freshUntil: now + verdict.ttl,
      swrUntil: now + verdict.ttl + swr,
      sieUntil: now + verdict.ttl + sie,
      headers,
      etag,
      vary: this.vary,
      tags,
      url: this.key,
      body,
    };
    const packed = packEntry(entry);
    const generation = this.options.generation;
    if (generation === NO_GENERATION) {
      // Redis failed before the render: nothing goes to Redis, but waiters in this process may use it.
      this.finish(packed);
      return;
    }
    if (performance.now() - this.options.startedAt > engine.retention * 0.9) {
      // Invalidation records may have expired since this render began: it cannot be proven current.
      this.release(false);
      this.finish(undefined);
      return;
    }
    const px = verdict.ttl + Math.max(swr, sie);
    try {
      if (tags.length > 0) {
        const added = await Promise.all(
          tags.map((tag) =>
            engine.call(() =>
              engine.tagAdd(engine.tagKeys(tag), [this.hash, px, generation, engine.tagMargin]),
            ),
          ),
        );
        // A tag set must outlive the entry: give up if the SET would come too long after the tags' TTLs.
        if (
          added.some((a) => a !== 1) ||
          performance.now() - this.options.startedAt > engine.retention * 0.9
        ) {
          this.release(false);
          this.finish(undefined);
          return;
        }
      }
      const hash = this.hash;
      const stored = await engine.call(() =>
        engine.entryPut(
          [engine.entryKey(hash), engine.lockKey(hash), engine.variantSetKey(hash)],
          [
            packed,
            px,
            tags.length > 0 ? generation : -1,
            this.options.token ?? '',
            hash.slice(hash.indexOf('}') + 1),
            this.options.urlCount,
            engine.tagMargin,
          ],
        ),
      );
      if (stored === 1) engine.counters.stored++;
      this.finish(stored === 1 ? packed : undefined);
    } catch (error) {
      engine.redisFailed(error, 'store');
      this.release(false);
      this.finish(undefined);
    }
  }

  /** The entry's tags, or undefined (not stored) when the `tags` function misbehaves. */
  private resolveTags(): string[] | undefined {
    const option = this.engine.cfg.tags;
    if (typeof option !== 'function') return option as string[];
    let value: unknown;
    try {
      value = option(this.req, this.res);
    } catch (error) {
      this.engine.cfg.logger.error('responseCache: the `tags` function threw; the response was not stored', {
        error,
      });
      return undefined;
    }
    if (value === undefined || value === null) return [];
    if (
      !Array.isArray(value) ||
      value.length > MAX_TAGS ||
      value.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 256)
    ) {
      this.engine.cfg.logger.error(
        `responseCache: the \`tags\` function must return at most ${MAX_TAGS} non-empty strings of at most 256 characters; the response was not stored`,
        { url: this.key },
      );
      return undefined;
    }
    return [...new Set(value as string[])];
  }

  /** Releases the lock (when held) and optionally leaves a hit-for-miss marker; errors are only reported. */
  private release(marker: boolean): void {
    const token = this.options.token;
    if (token === undefined && !marker) return;
    const engine = this.engine;
    engine
      .call(() =>
        engine.lockRelease(
          [engine.lockKey(this.hash), engine.entryKey(this.hash)],
          [token ?? '', marker ? MARKER_VALUE : '', engine.markerTtl],
        ),
      )
      .catch((error: unknown) => engine.redisFailed(error, 'unlock'));
  }

  private finish(shared: Buffer | undefined): void {
    const flight = this.options.flight;
    if (flight !== undefined) this.engine.settleFlight(this.hash, flight, shared);
    if (this.options.virtual) this.engine.refreshing.delete(this.hash);
  }
}

function abandon(capture: ResponseCapture): void {
  capture.abandon();
}
