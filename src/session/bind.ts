// Fingerprints that bind a session to the client that created it (the `bind` option).
import type { Request } from 'express';
import { errorMessage, type Logger } from '../core/index.js';
import { sha256 } from '../redis/index.js';

/** Characters of the stored fingerprint (`@b`): 132 bits of a SHA-256. */
const FINGERPRINT_LENGTH = 22;

/**
 * The stored fingerprint of a request: `bind`'s value hashed, so a raw User-Agent or IP is not stored for it.
 * A `bind` function that throws binds to an empty value (logged) rather than failing the request.
 */
export function fingerprintOf(bind: (req: Request) => string, req: Request, logger: Logger): string {
  let raw = '';
  try {
    raw = String(bind(req));
  } catch (error) {
    logger.error('The session `bind` function threw; binding to an empty value', {
      source: 'session',
      error: errorMessage(error),
    });
  }
  return sha256(raw).slice(0, FINGERPRINT_LENGTH);
}

/** The built-in fingerprints: the User-Agent header, or the client's network prefix. */
export function bindFingerprint(kind: 'user-agent' | 'ip-prefix'): (req: Request) => string {
  return kind === 'user-agent' ? userAgentOf : ipPrefixOf;
}

function userAgentOf(req: Request): string {
  return req.headers['user-agent'] ?? '';
}

function ipPrefixOf(req: Request): string {
  return ipPrefix(req.ip ?? '');
}

/**
 * The /24 of an IPv4 address or the /48 of an IPv6 one: stable while a client moves within its provider's
 * block, different when it comes from elsewhere. IPv4-mapped IPv6 addresses count as IPv4.
 */
export function ipPrefix(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped?.[1] ?? ip;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) return `${address.slice(0, address.lastIndexOf('.'))}.0/24`;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? headGroups
      : [
          ...headGroups,
          ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'),
          ...tailGroups,
        ];
  return `${groups
    .slice(0, 3)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(':')}::/48`;
}
