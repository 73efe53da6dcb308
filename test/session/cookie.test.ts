// The signed cookie and tampering with it, ids with enough entropy, and Redis keys that hold no live id.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { session } from '../../src/index.js';
import { readSessionCookie, signId, verifyCookieValue } from '../../src/session/cookie.js';
import { handleOf, ID_PATTERN, newId, newUserSessionId, tagOfId, userTag } from '../../src/session/ids.js';
import { resolveOptions } from '../../src/session/options.js';
import { recordCommands } from '../helpers/commands.js';
import { expressVersions } from '../helpers/express.js';
import { deleteByPattern, useTestRedis } from '../helpers/redis.js';
import { cookieOf, cookieValue, keyOf, OLD_SECRET, SECRET, sessionApp } from './support.js';

const redis = useTestRedis();
const keys = resolveOptions({ redis: redis.client, secret: [SECRET, OLD_SECRET] }).signKeys;
const [current, old] = keys as [Buffer, Buffer];

describe('ids', () => {
  it('ids carry 192 random bits (24 CSPRNG bytes), never repeat, and a signed-in id adds the user tag', () => {
    const ids = Array.from({ length: 5_000 }, () => newId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 100)) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(24);
    }
    const tag = userTag(current, 'ada');
    const userId = newUserSessionId(tag);
    expect(userId).toMatch(ID_PATTERN);
    expect(tagOfId(userId)).toBe(tag);
    expect(Buffer.from(userId.slice(23), 'base64url')).toHaveLength(24);
    expect(tagOfId(newId())).toBeUndefined();
  });

  it('the user tag is a keyed hash: it hides the user id and differs per secret', () => {
    const tag = userTag(current, 'ada@example.com');
    expect(tag).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(tag).not.toContain('ada');
    expect(tag).not.toBe(createHash('sha256').update('ada@example.com').digest('base64url').slice(0, 22));
    expect(userTag(old, 'ada@example.com')).not.toBe(tag);
    expect(userTag(current, 'ada@example.com')).toBe(tag);
  });
});

describe('cookie signature', () => {
  it('a signed id verifies, and tells which secret signed it', () => {
    const id = newId();
    expect(verifyCookieValue(signId(id, current), keys)).toEqual({ id, keyIndex: 0 });
    expect(verifyCookieValue(signId(id, old), keys)).toEqual({ id, keyIndex: 1 });
    const userId = newUserSessionId(userTag(current, 'u'));
    expect(verifyCookieValue(signId(userId, current), keys)).toEqual({ id: userId, keyIndex: 0 });
  });

  it('any change to a signed value (one character, truncation, extension) makes it invalid', () => {
    const value = signId(newId(), current);
    fc.assert(
      fc.property(
        fc.nat({ max: value.length - 1 }),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=%'),
        (at, char) => {
          fc.pre(value[at] !== char);
          const tampered = value.slice(0, at) + char + value.slice(at + 1);
          expect(verifyCookieValue(tampered, keys)).toBeUndefined();
        },
      ),
      { numRuns: 500 },
    );
    for (let n = 0; n < value.length; n++) expect(verifyCookieValue(value.slice(0, n), keys)).toBeUndefined();
    expect(verifyCookieValue(`${value}A`, keys)).toBeUndefined();
    expect(verifyCookieValue(`s:${value}`, keys)).toBeUndefined();
  });

  it('garbage never verifies and never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (garbage) => {
        expect(verifyCookieValue(garbage, keys)).toBeUndefined();
        expect(readSessionCookie(`sid=${garbage}`, 'sid', keys)).toBeUndefined();
        expect(readSessionCookie(garbage, 'sid', keys)).toBeUndefined();
      }),
      { numRuns: 1_000 },
    );
    const unsigned = newId();
    expect(verifyCookieValue(unsigned, keys)).toBeUndefined();
    // Signed with a secret that is not configured.
    const foreign = resolveOptions({ redis: redis.client, secret: 'f'.repeat(40) }).signKeys[0] as Buffer;
    expect(verifyCookieValue(signId(newId(), foreign), keys)).toBeUndefined();
  });

  it('finds its cookie among others, by exact name, and takes the first one that verifies', () => {
    const id = newId();
    const value = signId(id, current);
    expect(readSessionCookie(`a=1; sid=${value}; b=2`, 'sid', keys)?.id).toBe(id);
    expect(readSessionCookie(`xsid=${value}`, 'sid', keys)).toBeUndefined();
    expect(readSessionCookie(`sid="${value}"`, 'sid', keys)?.id).toBe(id);
    expect(readSessionCookie(`sid=garbage; sid=${value}`, 'sid', keys)?.id).toBe(id);
    expect(readSessionCookie(undefined, 'sid', keys)).toBeUndefined();
  });
});

describe.each(expressVersions)('%s over HTTP', (_name, express) => {
  let client: Redis;
  let prefix: string;
  let app: ReturnType<typeof sessionApp>;

  beforeAll(async () => {
    client = redis.connect();
    await client.ping();
    prefix = redis.prefix(`c${Math.random().toString(36).slice(2, 6)}:`);
    app = sessionApp(express, session({ redis: client, secret: [SECRET, OLD_SECRET], prefix }));
  });

  it('a tampered, unsigned, truncated or garbage cookie is no session: 200, no Redis lookup, not adopted', async () => {
    const good = cookieValue(await request(app).post('/set?cart=1')) as string;
    const flipped = good.slice(0, 5) + (good[5] === 'A' ? 'B' : 'A') + good.slice(6);
    const candidates = [
      flipped,
      good.slice(0, -1),
      good.slice(0, good.lastIndexOf('.')),
      `${good.slice(0, good.lastIndexOf('.'))}.`,
      `s:${good}`,
      'garbage',
      '%E0%A4%A',
      'x'.repeat(4_000),
      `${newId()}.${'A'.repeat(43)}`,
    ];
    for (const candidate of candidates) {
      const recorder = await recordCommands(client);
      const res = await request(app).post('/set?other=2').set('Cookie', `sid=${candidate}`);
      const commands = await recorder.stop();
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ other: 2 });
      // Only the create of a brand-new session: nothing was looked up under the presented id.
      expect(commands).toHaveLength(1);
      const issued = cookieValue(res) as string;
      expect(issued.slice(0, 32)).not.toBe(candidate.slice(0, 32));
    }
  });

  it('a cookie signed by an older secret is accepted and re-signed with the first secret', async () => {
    const oldApp = sessionApp(express, session({ redis: client, secret: OLD_SECRET, prefix }));
    const created = await request(oldApp).post('/set?cart=7');
    const oldValue = cookieValue(created) as string;
    const res = await request(app).get('/state').set('Cookie', `sid=${oldValue}`);
    expect(res.body.data).toEqual({ cart: 7 });
    const renewed = cookieValue(res) as string;
    expect(renewed.slice(0, renewed.lastIndexOf('.'))).toBe(oldValue.slice(0, oldValue.lastIndexOf('.')));
    expect(verifyCookieValue(renewed, keys)?.keyIndex).toBe(0);
    // Re-signed even when the read did not slide the expiry (touchAfter), which sends no cookie otherwise.
    const throttled = sessionApp(
      express,
      session({ redis: client, secret: [SECRET, OLD_SECRET], prefix, touchAfter: '1m' }),
    );
    const fresh = cookieValue(await request(oldApp).post('/set?cart=8')) as string;
    const quiet = await request(throttled).get('/state').set('Cookie', `sid=${renewed}`);
    expect(cookieOf(quiet)).toBeUndefined();
    const resigned = await request(throttled).get('/state').set('Cookie', `sid=${fresh}`);
    expect(resigned.body.data).toEqual({ cart: 8 });
    expect(verifyCookieValue(cookieValue(resigned) as string, keys)?.keyIndex).toBe(0);
  });

  it('a huge or malformed Cookie header is ignored, never a 500', async () => {
    const res = await request(app)
      .get('/state')
      .set('Cookie', `${'a=b; '.repeat(1_500)}sid=${'%'.repeat(500)}`);
    expect(res.status).toBe(200);
    expect(cookieOf(res)).toBeUndefined();
  });

  it('the Redis key is a SHA-256 of the id: a dump of keys and values holds no live id', async () => {
    const ids: string[] = [];
    for (const path of ['/set?cart=1', '/sign-in/ada']) {
      const value = cookieValue(await request(app).post(path)) as string;
      const id = value.slice(0, value.lastIndexOf('.'));
      ids.push(id, id.slice(-32));
      expect(await client.exists(keyOf(prefix, value))).toBe(1);
      expect(keyOf(prefix, value)).toContain(handleOf(id));
    }
    let dump = '';
    let cursor = '0';
    do {
      const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of found) {
        const type = await client.type(key);
        const values = type === 'hash' ? await client.hgetall(key) : await client.zrange(key, 0, -1);
        dump += key + JSON.stringify(values);
      }
    } while (cursor !== '0');
    expect(dump.length).toBeGreaterThan(0);
    for (const id of ids) expect(dump).not.toContain(id);
    await deleteByPattern(client, `${prefix}*`);
  });
});
