// Writes the rate-limit response headers: the IETF draft's RateLimit-Policy/RateLimit lists, or X-RateLimit-*,
// and Retry-After on a refusal.
import type { Response } from 'express';
import type { RateLimitHeaders } from './options.js';
import type { ResolvedRule } from './rule-options.js';
import type { RateLimitInfo } from './types.js';

/** Sets the headers for one decision; precomputes what never changes per request. */
export type HeaderWriter = (res: Response, info: RateLimitInfo) => void;

/**
 * Returns the header writer for a limiter. `'draft-8'` sends, per rule, a Structured Field list item such as
 * `"api";q=100;w=60` in `RateLimit-Policy` and `"api";r=42;t=17` in `RateLimit`; a second limiter on the
 * same request appends its items to the lists rather than replacing them. `w` and `t` are whole seconds
 * (rounded up), as the draft requires. Every mode sends `Retry-After` (whole seconds, rounded up) on a
 * refusal that can ever fit.
 */
export function headerWriter(mode: RateLimitHeaders, rules: readonly ResolvedRule[]): HeaderWriter {
  if (mode === false) return writeRetryAfter;
  if (mode === 'legacy') return writeLegacy;
  const policy = rules.map((r) => `"${r.name}";q=${r.limit};w=${Math.ceil(r.windowMs / 1000)}`).join(', ');
  const names = rules.map((r) => `"${r.name}";r=`);
  return (res, info) => {
    const states = info.rules;
    let value = '';
    for (let i = 0; i < names.length; i++) {
      const rule = states[i];
      if (rule === undefined) break;
      if (i > 0) value += ', ';
      value += `${names[i]}${rule.remaining};t=${Math.ceil(rule.resetMs / 1000)}`;
    }
    append(res, 'RateLimit-Policy', policy);
    append(res, 'RateLimit', value);
    if (!info.allowed) writeRetryAfter(res, info);
  };
}

function writeLegacy(res: Response, info: RateLimitInfo): void {
  res.setHeader('X-RateLimit-Limit', String(info.limit));
  res.setHeader('X-RateLimit-Remaining', String(info.remaining));
  res.setHeader('X-RateLimit-Reset', String(Math.ceil((info.now + info.resetMs) / 1000)));
  if (!info.allowed) writeRetryAfter(res, info);
}

function writeRetryAfter(res: Response, info: RateLimitInfo): void {
  if (info.allowed || info.retryAfterMs === Number.POSITIVE_INFINITY) return;
  res.setHeader('Retry-After', String(Math.ceil((info.retryAfterMs ?? 0) / 1000)));
}

function append(res: Response, name: string, value: string): void {
  const existing = res.getHeader(name);
  res.setHeader(name, typeof existing === 'string' && existing.length > 0 ? `${existing}, ${value}` : value);
}
