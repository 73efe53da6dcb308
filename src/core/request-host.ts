// The host a request was sent to, as every middleware must read it: the Host header (or X-Forwarded-Host behind a trusted proxy), checked.
import type { Request } from 'express';

/** A host name, an IPv4 address or a bracketed IPv6 address, lower case, with an optional port. */
const HOST = /^(?:\[[0-9a-f:.]{2,45}\]|[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_.])?)(?::[0-9]{1,5})?$/;

type TrustProxy = (address: string | undefined, hop: number) => boolean;

/**
 * The request's host with its port, lower-cased: `X-Forwarded-Host` (its first value) when Express's
 * `trust proxy` setting trusts the peer, the `Host` header otherwise, exactly as Express 5's `req.host`
 * chooses. Undefined when that value is missing or is not a valid `host[:port]` (`shop.example:@evil.example`),
 * so a forged Host can never be mistaken for the real one.
 */
export function requestHost(req: Request): string | undefined {
  const headers = req.headers;
  let value: string | undefined;
  const forwarded = headers['x-forwarded-host'];
  if (typeof forwarded === 'string' && forwarded !== '') {
    const trust = req.app?.get('trust proxy fn') as TrustProxy | undefined;
    if (typeof trust === 'function' && trust(req.socket?.remoteAddress, 0)) {
      const comma = forwarded.indexOf(',');
      value = (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
    }
  }
  value ??= headers.host;
  if (value === undefined || value.length > 261) return undefined;
  const host = value.toLowerCase();
  return HOST.test(host) ? host : undefined;
}
