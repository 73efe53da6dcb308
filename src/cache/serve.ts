// Writes a cached entry as the response: one writeHead with every field, then the body (or a bodiless 304).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DecodedEntry } from './entry.js';
import { noneMatch, notModifiedSince } from './policy.js';

type WriteHead = (this: ServerResponse, status: number, headers: (string | string[])[]) => unknown;
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
    const fields: (string | string[])[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (NOT_MODIFIED_FIELDS.has(headers[i] as string))
        fields.push(headers[i] as string, headers[i + 1] as string);
    }
    fields.push('age', String(age));
    if (cacheStatus !== undefined) fields.push('cache-status', cacheStatus);
    writeHead.call(res, 304, fields);
    end.call(res);
    return;
  }
  headers.push('age', String(age));
  if (cacheStatus !== undefined) headers.push('cache-status', cacheStatus);
  const status = entry.status;
  if (status !== 204 && status >= 200) headers.push('content-length', String(entry.body.length));
  writeHead.call(res, status, headers);
  // Node drops the body of a HEAD answer itself and keeps Content-Length: HEAD is served from the GET entry.
  end.call(res, entry.body);
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

/** `Cache-Status` for an entry served from the cache: fresh (`hit`) or stale. */
export function hitStatus(name: string, entry: DecodedEntry, now: number): string {
  return `${name}; hit; ttl=${Math.floor((entry.freshUntil - now) / 1_000)}`;
}
