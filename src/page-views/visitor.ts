// Who the (anonymous) visitor is: the client address as Express sees it, and the user agent.
import type { Request } from 'express';
import { member, requestHeaders } from '../core/index.js';
import { type Visitor, VisitorRegistry } from './visitors.js';

type TrustProxy = (address: string, hop: number) => boolean;

/** The default `visitor`: the client address (as Express sees it, honouring `trust proxy`) and user agent. */
export function remoteVisitor(req: Request): string | undefined {
  return identity(clientAddress(req), req.headers['user-agent']);
}

/** A visitor's raw identity: its address, and its user agent when it sent one. */
function identity(ip: string, agent: string | undefined): string {
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

/** A client address as decided, and the last visitor made from it (reused while the agent repeats). */
interface Client {
  readonly ip: string;
  agent: string | undefined;
  visitor: Visitor | undefined;
}

/**
 * {@link remoteVisitor} with what `req.ip` decides remembered: checking addresses against `trust proxy` parses
 * each one (ipaddr.js), and that was most of the cost of counting a view behind a proxy. Its answers depend
 * only on the addresses and on the setting, and visitors come back, so the direct peers (mostly the proxies)
 * and the recent `X-Forwarded-For` values are kept, both forgotten when the setting changes. A `trust proxy`
 * given as a function may answer differently over time: then nothing is kept. The {@link Visitor} itself is
 * kept while a client's user agent repeats, so a view of a known client needs one lookup in all.
 */
export function createRemoteVisitor(
  visitors: VisitorRegistry = new VisitorRegistry(),
  limit = 20_000,
): (req: Request) => Visitor | undefined {
  let trust: TrustProxy | undefined;
  /** Direct peer → whether it is a trusted proxy. */
  const peers = new Map<string, boolean>();
  /** Direct peers that are not trusted proxies (they are the client). */
  const direct = new Map<string, Client>();
  /** X-Forwarded-For behind a trusted peer → the client it names. */
  const forwarded = new Map<string, Client>();

  const remember = (clients: Map<string, Client>, key: string, ip: string): Client => {
    const client: Client = { ip, agent: undefined, visitor: undefined };
    if (clients.size >= limit) clients.clear();
    clients.set(key, client);
    return client;
  };

  /** `trust proxy` was given as a function (checked when Express compiles the setting anew). */
  let givenAsFunction = false;

  const clientOf = (req: Request, headers: Request['headers']): Client | undefined => {
    const peer = member(req, 'socket').remoteAddress;
    // `app.get(name)` reads `app.settings`, which inherits a parent app's: read it directly, once per view.
    const settings = member(req, 'app')?.settings as Record<string, unknown> | undefined;
    const fn = settings?.['trust proxy fn'] as TrustProxy | undefined;
    if (peer === undefined || typeof fn !== 'function') return undefined;
    if (fn !== trust) {
      // Express compiles `trust proxy fn` whenever `trust proxy` is set: a new function means a new setting.
      trust = fn;
      givenAsFunction = typeof settings?.['trust proxy'] === 'function';
      peers.clear();
      direct.clear();
      forwarded.clear();
    }
    if (givenAsFunction) return undefined;
    let trusted = peers.get(peer);
    if (trusted === undefined) {
      trusted = fn(peer, 0);
      if (peers.size >= 1_000) peers.clear();
      peers.set(peer, trusted);
    }
    const header = trusted ? headers['x-forwarded-for'] : undefined;
    if (typeof header !== 'string') return direct.get(peer) ?? remember(direct, peer, peer);
    return forwarded.get(header) ?? remember(forwarded, header, req.ip ?? peer);
  };

  return (req) => {
    const headers = requestHeaders(req);
    const client = clientOf(req, headers);
    if (client === undefined) {
      const raw = remoteVisitor(req);
      return raw === undefined ? undefined : visitors.of(raw);
    }
    const agent = headers['user-agent'];
    if (client.visitor === undefined || client.agent !== agent) {
      client.agent = agent;
      client.visitor = visitors.of(identity(client.ip, agent));
    }
    return client.visitor;
  };
}
