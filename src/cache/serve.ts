// Writes a cached entry as the response: its fields, one writeHead, then the body (or a bodiless 304).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DecodedEntry } from './entry.js';
import { noneMatch, notModifiedSince } from './policy.js';

type WriteHead = (this: ServerResponse, status: number) => unknown;
type End = (this: ServerResponse, body?: Buffer) => unknown;

/** Fields a 304 carries (RFC 9110 §15.4.5), besides Age and Cache-Status. */
const NOT_MODIFIED_FIELDS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary']);

/**
 * Sends `entry`: a 304 when the request's validators match it, otherwise the stored status, fields and body,
 * with `Age` and `Cache-Status`. `writeHead`/`end` are the response's own methods on a hit, or the originals
 * saved by a capture when a stale entry replaces an error.
 */
export function sendEntry(
  req: IncomingMessage,
  res: ServerResponse,
  entry: DecodedEntry,
  now: number,
  cacheStatus: string | undefined,
  writeHead: WriteHead,
  end: End,
): void {
  const headers = entry.headers;
  const age = now > entry.storedAt ? Math.floor((now - entry.storedAt) / 1_000) : 0;
  if (isNotModified(req, entry)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (NOT_MODIFIED_FIELDS.has(name)) res.setHeader(name, headers[i + 1] as string | string[]);
    }
    setServedFields(res, age, cacheStatus);
    writeHead.call(res, 304);
    end.call(res);
    return;
  }
  // Set one by one rather than passed to writeHead: Node keeps fields given only to writeHead out of
  // getHeader(), and middlewares that look at the response on 'finish' (page views, loggers) need them.
  for (let i = 0; i < headers.length; i += 2)
    res.setHeader(headers[i] as string, headers[i + 1] as string | string[]);
  setServedFields(res, age, cacheStatus);
  const status = entry.status;
  if (status !== 204 && status >= 200) res.setHeader('content-length', entry.body.length);
  writeHead.call(res, status);
  // Node drops the body of a HEAD answer itself and keeps Content-Length: HEAD is served from the GET entry.
  end.call(res, entry.body);
}

/** Sends `entry` through the response's own methods (the answer from the cache). */
export function serveEntry(
  req: IncomingMessage,
  res: ServerResponse,
  entry: DecodedEntry,
  now: number,
  cacheStatus: string | undefined,
): void {
  sendEntry(req, res, entry, now, cacheStatus, res.writeHead as WriteHead, res.end as End);
}

function setServedFields(res: ServerResponse, age: number, cacheStatus: string | undefined): void {
  res.setHeader('age', String(age));
  if (cacheStatus !== undefined) res.setHeader('cache-status', cacheStatus);
}

function isNotModified(req: IncomingMessage, entry: DecodedEntry): boolean {
  const status = entry.status;
  if (status < 200 || status > 299) return false;
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return noneMatch(inm, entry.etag);
  const ims = req.headers['if-modified-since'];
  if (ims === undefined) return false;
  return notModifiedSince(ims, lastModified(entry.headers));
}

function lastModified(headers: readonly (string | string[])[]): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'last-modified') {
      const v = headers[i + 1];
      return typeof v === 'string' ? v : undefined;
    }
  }
  return undefined;
}
