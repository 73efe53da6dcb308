// Who the (anonymous) visitor is: the client address as Express sees it, and the user agent.
import type { Request } from 'express';

type TrustProxy = (address: string, hop: number) => boolean;

/** The default `visitor`: the client address (as Express sees it, honouring `trust proxy`) and user agent. */
export function remoteVisitor(req: Request): string | undefined {
  const agent = req.headers['user-agent'];
  const ip = clientAddress(req);
  return agent === undefined ? ip : `${ip} ${agent}`;
}

/**
 * `req.ip` without its cost in the common case: when the direct peer is not a trusted proxy, `req.ip` is the
 * peer's address (proxy-addr stops at the first untrusted hop), so X-Forwarded-For need not be parsed.
 */
function clientAddress(req: Request): string {
  const peer = req.socket.remoteAddress;
  if (peer !== undefined) {
    const trust = req.app?.get('trust proxy fn') as TrustProxy | undefined;
    if (typeof trust === 'function' && !trust(peer, 0)) return peer;
  }
  return req.ip ?? peer ?? '';
}

/**
 * {@link remoteVisitor} with what `req.ip` decides remembered: checking addresses against `trust proxy` parses
 * each one (ipaddr.js), and that was most of the cost of counting a view behind a proxy. Its answers depend
 * only on the addresses and on the setting, and visitors come back, so the direct peers (mostly the proxies)
 * and the recent `X-Forwarded-For` values are kept, both forgotten when the setting changes. A `trust proxy`
 * given as a function may answer differently over time: then nothing is kept.
 */
export function createRemoteVisitor(limit = 20_000): (req: Request) => string | undefined {
  let trust: TrustProxy | undefined;
  /** Direct peer → whether it is a trusted proxy. */
  const peers = new Map<string, boolean>();
  /** X-Forwarded-For behind a trusted peer → the client address. */
  const forwarded = new Map<string, string>();

  const address = (req: Request): string => {
    const peer = req.socket.remoteAddress;
    const app = req.app;
    const fn = app?.get('trust proxy fn') as TrustProxy | undefined;
    if (peer === undefined || typeof fn !== 'function' || typeof app.get('trust proxy') === 'function') {
      return clientAddress(req);
    }
    if (fn !== trust) {
      trust = fn;
      peers.clear();
      forwarded.clear();
    }
    let trusted = peers.get(peer);
    if (trusted === undefined) {
      trusted = fn(peer, 0);
      if (peers.size >= 1_000) peers.clear();
      peers.set(peer, trusted);
    }
    if (!trusted) return peer;
    const header = req.headers['x-forwarded-for'];
    if (typeof header !== 'string') return peer;
    let ip = forwarded.get(header);
    if (ip === undefined) {
      ip = req.ip ?? peer;
      if (forwarded.size >= limit) forwarded.clear();
      forwarded.set(header, ip);
    }
    return ip;
  };

  return (req) => {
    const agent = req.headers['user-agent'];
    const ip = address(req);
    return agent === undefined ? ip : `${ip} ${agent}`;
  };
}
