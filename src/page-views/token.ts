// Signs page references and mints one-per-view beacon tokens (HMAC-SHA256), and checks them.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What a valid token says: which route's view it belongs to and when its script was served. */
export interface OpenedToken {
  readonly issued: number;
  readonly nonce: string;
  readonly routeKey: string;
}

/** Signs with the first secret and verifies with every secret, so secrets can be rotated. */
export interface TokenSigner {
  /** Signature of a route reference, put in the script URL so the URL can be cached inside pages. */
  routeSignature(routeKey: string): string;
  verifyRoute(routeKey: string, signature: string): boolean;
  /** A fresh token for one view of the route: `<issued base36>.<nonce>.<mac>.<routeKey>`. */
  mint(routeKey: string, now: number): string;
  /** The token's content when its MAC is right, else undefined. Does not check its age. */
  open(token: string): OpenedToken | undefined;
}

const ROUTE_SIG_LENGTH = 16;
const MAC_LENGTH = 22;
const ISSUED = /^[0-9a-z]{1,11}$/;
const NONCE = /^[A-Za-z0-9_-]{12}$/;

export function createTokenSigner(secrets: readonly Buffer[]): TokenSigner {
  const sign = (secret: Buffer, text: string, length: number): string =>
    createHmac('sha256', secret).update(text).digest('base64url').slice(0, length);
  const verify = (text: string, given: string, length: number): boolean => {
    if (given.length !== length) return false;
    const candidate = Buffer.from(given);
    // Non-ASCII characters make more bytes than characters; timingSafeEqual throws on unequal lengths.
    if (candidate.length !== length) return false;
    for (const secret of secrets) {
      if (timingSafeEqual(Buffer.from(sign(secret, text, length)), candidate)) return true;
    }
    return false;
  };
  const first = secrets[0] as Buffer;
  return {
    routeSignature: (routeKey) => sign(first, `r.${routeKey}`, ROUTE_SIG_LENGTH),
    verifyRoute: (routeKey, signature) => verify(`r.${routeKey}`, signature, ROUTE_SIG_LENGTH),
    mint(routeKey, now) {
      const issued = now.toString(36);
      const nonce = randomBytes(9).toString('base64url');
      return `${issued}.${nonce}.${sign(first, `t.${issued}.${nonce}.${routeKey}`, MAC_LENGTH)}.${routeKey}`;
    },
    open(token) {
      const a = token.indexOf('.');
      const b = token.indexOf('.', a + 1);
      const c = token.indexOf('.', b + 1);
      if (a < 0 || b < 0 || c < 0) return undefined;
      const issued = token.slice(0, a);
      const nonce = token.slice(a + 1, b);
      const mac = token.slice(b + 1, c);
      const routeKey = token.slice(c + 1);
      if (!ISSUED.test(issued) || !NONCE.test(nonce) || routeKey.length === 0) return undefined;
      if (!verify(`t.${issued}.${nonce}.${routeKey}`, mac, MAC_LENGTH)) return undefined;
      return { issued: Number.parseInt(issued, 36), nonce, routeKey };
    },
  };
}
