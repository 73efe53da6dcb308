// The two endpoints of time on page: GET <beaconPath>.js serves the script with a fresh token, POST <beaconPath> stores a beacon.
import type { Request, Response } from 'express';
import { type RedisErrorReporter, redisCaller, type VariadicRunner } from '../redis/index.js';
import { servedScript } from './client-script.js';
import type { PageViewKeys } from './keys.js';
import type { ResolvedPageViewsConfig } from './options.js';
import { periodEndMs, periodOfDay } from './periods.js';
import type { TokenSigner } from './token.js';

/** Largest beacon body accepted; a real one is under 200 bytes. */
export const MAX_BEACON_BYTES = 1_024;
/** Tokens issued this far in the future (clock skew between instances) are still accepted. */
const CLOCK_SKEW_MS = 60_000;
const MAX_SEQUENCE = 100_000;
const TEXT_TYPE = /^\s*(?:text\/plain|application\/json)\s*(?:;|$)/i;
const TOO_LARGE = Symbol('too large');

export interface BeaconEndpoints {
  serveScript(req: Request, res: Response): void;
  handleBeacon(req: Request, res: Response): void;
}

export function createBeaconEndpoints(
  config: ResolvedPageViewsConfig,
  keys: PageViewKeys,
  signer: TokenSigner,
  store: VariadicRunner<number>,
  report: RedisErrorReporter,
  /** Folds a route key into `(other)` beyond `maxRoutes` distinct routes today. */
  fold: (routeKey: string) => string,
): BeaconEndpoints {
  const { beaconPath, clock, granularities, maxTimeOnPageMs, tokenTtlMs, retentionMs } = config;
  const caller = redisCaller(config.redis, config.timeoutMs);

  const storeBeacon = async (req: Request, res: Response): Promise<void> => {
    const type = req.headers['content-type'];
    if (type !== undefined && !TEXT_TYPE.test(type)) return reply(res, 415, 'beacons are text/plain');
    const body = await readBody(req);
    if (body === TOO_LARGE) {
      res.setHeader('Connection', 'close');
      return reply(res, 413, `beacons are at most ${MAX_BEACON_BYTES} bytes`);
    }
    const beacon = parseBeacon(body);
    if (beacon === undefined) return reply(res, 400, 'malformed beacon');
    const token = signer.open(beacon.t);
    const now = Date.now();
    if (token === undefined) return reply(res, 403, 'invalid token');
    if (token.issued > now + CLOCK_SKEW_MS || now - token.issued > tokenTtlMs) {
      return reply(res, 403, 'expired token');
    }
    const ms = Math.min(Math.round(beacon.ms), maxTimeOnPageMs);
    const day = clock.dayOf(token.issued);
    const timeKeys = [keys.token(token.nonce)];
    // A signed route may come from a page rendered on another day or instance: the cap applies here too.
    const args: (string | number)[] = [beacon.s, ms, token.issued + tokenTtlMs, fold(token.routeKey)];
    for (const g of granularities) {
      const period = periodOfDay(day, g);
      timeKeys.push(keys.time(g, period));
      args.push(Math.ceil((periodEndMs(period, g) + retentionMs[g]) / 1000));
    }
    let added: number;
    try {
      added = await caller.call(() => store(timeKeys, args));
    } catch (error) {
      report(error, 'pageViews beacon');
      if (config.onRedisError === 'fail-closed') return reply(res, 503, 'beacon not stored');
      return reply(res, 204);
    }
    if (added < 0) return reply(res, 409, 'beacon already received');
    reply(res, 204);
  };

  return {
    serveScript(req, res) {
      const query = req.url.indexOf('?');
      const params = new URLSearchParams(query >= 0 ? req.url.slice(query + 1) : '');
      const routeKey = params.get('r');
      const signature = params.get('s');
      res.setHeader('Cache-Control', 'no-store');
      if (
        routeKey === null ||
        signature === null ||
        routeKey.length === 0 ||
        routeKey.length > 300 ||
        !signer.verifyRoute(routeKey, signature)
      ) {
        return reply(res, 400, 'invalid page reference');
      }
      const body = servedScript(beaconPath, signer.mint(fold(routeKey), Date.now()));
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(body);
    },
    handleBeacon(req, res) {
      res.setHeader('Cache-Control', 'no-store');
      storeBeacon(req, res).catch(() => {
        // the request was aborted or its body unreadable
        if (!res.headersSent) reply(res, 400, 'unreadable beacon');
        else if (!res.writableEnded) res.end();
      });
    },
  };
}

interface Beacon {
  readonly t: string;
  readonly s: number;
  readonly ms: number;
}

function parseBeacon(body: unknown): Beacon | undefined {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { t, s, ms } = value as Record<string, unknown>;
  if (typeof t !== 'string' || t.length > 400) return undefined;
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > MAX_SEQUENCE) return undefined;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return undefined;
  return { t, s, ms };
}

/**
 * Reads at most {@link MAX_BEACON_BYTES} of the body. A body a parser already read (express.text() or
 * express.json() mounted before the middleware) is used as it is.
 */
function readBody(req: Request): Promise<unknown> {
  const parsed = req as Request & { _body?: boolean; body?: unknown };
  // body-parser 1 marks a parsed body with `_body`; body-parser 2 leaves the stream ended
  if (parsed._body === true || req.readableEnded) {
    const body = parsed.body;
    const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
    if (typeof text === 'string' && Buffer.byteLength(text) > MAX_BEACON_BYTES)
      return Promise.resolve(TOO_LARGE);
    return Promise.resolve(text);
  }
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BEACON_BYTES) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BEACON_BYTES) {
        cleanup();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('request closed before its body ended'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function reply(res: Response, status: number, message?: string): void {
  res.statusCode = status;
  if (message === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(message);
}
