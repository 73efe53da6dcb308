// The default responses: 429 for a refused request and 503 when Redis fails closed, as text or JSON by Accept.
import type { Request, Response } from 'express';
import type { RateLimitInfo } from './types.js';

/** The problem type the IETF rate-limit draft registers for a refused request (RFC 9457 body). */
export const QUOTA_EXCEEDED_TYPE = 'https://iana.org/assignments/http-problem-types#quota-exceeded';

const ACCEPTED = ['text/plain', 'application/json', 'application/problem+json'];

/** The default `onLimited`: 429, with `Retry-After` already set by the middleware when the request can fit. */
export function defaultOnLimited(req: Request, res: Response, _next: unknown, info: RateLimitInfo): void {
  const never = info.retryAfterMs === Number.POSITIVE_INFINITY;
  const seconds = Math.ceil((info.retryAfterMs ?? 0) / 1000);
  const detail = never
    ? `This request costs ${info.cost} units, more than the limit of ${info.limit} allows; it can never be accepted.`
    : `Too many requests. Retry in ${seconds} second${seconds === 1 ? '' : 's'}.`;
  const violated = info.rules.filter((r) => r.retryAfterMs !== undefined).map((r) => r.name);
  send(req, res, 429, 'Too Many Requests', detail, {
    type: QUOTA_EXCEEDED_TYPE,
    'violated-policies': violated,
    ...(never ? {} : { retryAfter: seconds }),
  });
}

/** The `fail-closed` answer when Redis cannot decide. */
export function sendUnavailable(req: Request, res: Response): void {
  send(req, res, 503, 'Service Unavailable', 'The rate limiter is unavailable. Try again shortly.', {});
}

function send(
  req: Request,
  res: Response,
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown>,
): void {
  if (res.headersSent) return;
  const type = req.headers.accept === undefined ? false : req.accepts(ACCEPTED);
  res.status(status);
  if (type === 'application/json' || type === 'application/problem+json') {
    res.setHeader('Content-Type', `${type}; charset=utf-8`);
    res.send(JSON.stringify({ title, status, detail, ...extra }));
    return;
  }
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.send(`${detail}\n`);
}
