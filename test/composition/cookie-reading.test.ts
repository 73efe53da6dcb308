// Session and response cache read one Cookie header the same way: a header that loads a session never reaches a shared entry.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasCredentials } from '../../src/cache/credentials.js';
import { resolveOptions } from '../../src/cache/options.js';
import { DEFAULT_RESPONSE_CACHE_OPTIONS, responseCache, session } from '../../src/index.js';
import { signId } from '../../src/session/cookie.js';
import { resolveOptions as resolveSessionOptions } from '../../src/session/options.js';
import { VerifiedCookies } from '../../src/session/verified-cookies.js';
import { expressVersions } from '../helpers/express.js';
import { request } from '../helpers/http.js';
import { useTestRedis } from '../helpers/redis.js';
import { cookieValue, SECRET } from '../session/support.js';

const redis = useTestRedis();

/** Pieces an attacker glues together: the stolen-looking session cookie, separators, quotes, public cookies. */
function headerOf(value: string, bytes: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const piece = fc.oneof(
    fc.constantFrom(';', '; ', ',', ', ', ' ', '\t', '"', '=', '\\', 'sid', 'sid=', `sid=${value}`, value),
    fc.constantFrom('_ga=GA1.1.2', '_gid=1', 'sid="', `"${value}"`, `sid="${value}"`, 'xsid=', 'SID='),
    fc.string({ unit: bytes, maxLength: 3 }),
  );
  const noise = fc.array(piece, { maxLength: 4 }).map((pieces) => pieces.join(''));
  const separator = fc.constantFrom('', ';', '; ', ',', ' ', '\t', '"');
  // Half the headers hold the whole session pair somewhere, so many of them do load a session.
  const publicCookies = fc
    .array(fc.constantFrom('_ga=GA1.1.2', '_gid=1', '_ga=1'), { maxLength: 2 })
    .map((pairs) => pairs.join('; '));
  const aroundSession = fc
    .tuple(
      fc.oneof(publicCookies, noise),
      separator,
      fc.constantFrom(`sid=${value}`, `sid="${value}"`),
      separator,
      fc.oneof(publicCookies, noise),
    )
    .map((parts) => parts.join(''));
  return fc.oneof(aroundSession, noise);
}

describe('one reading of the Cookie header', () => {
  it('property: whenever the session middleware finds its cookie, the cache sees credentials (any bytes)', () => {
    const client = redis.client;
    const sessionConfig = resolveSessionOptions({ redis: client, secret: SECRET });
    const cacheConfig = resolveOptions({ redis: client });
    const cookies = new VerifiedCookies(sessionConfig.signKeys, () => 'key');
    const value = signId('A'.repeat(32), sessionConfig.signKeys[0] as Buffer);
    const anyByte = fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c));
    let found = 0;
    fc.assert(
      fc.property(headerOf(value, anyByte), (header) => {
        const loads = cookies.find({ headers: { cookie: header } }, 'sid') !== undefined;
        if (loads) found++;
        const bypass = hasCredentials(
          { headers: { cookie: header } },
          cacheConfig.publicCookieNames,
          cacheConfig.publicCookiePatterns,
        );
        return !loads || bypass;
      }),
      { numRuns: 5_000 },
    );
    // The generator does reach headers that load a session, so the property is not vacuous.
    expect(found).toBeGreaterThan(100);
    expect(DEFAULT_RESPONSE_CACHE_OPTIONS.publicCookies).toContain('_gid');
  });

  describe.each(expressVersions)('%s, both middlewares mounted', (_label, express) => {
    let app: ReturnType<typeof express>;
    let value: string;

    beforeAll(async () => {
      const client = redis.connect();
      app = express();
      app.use(session({ redis: client, secret: SECRET, prefix: redis.prefix('sess:') }));
      app.post('/login', (req, res) => {
        (req.session as unknown as Record<string, unknown>).user = 'bob';
        res.end();
      });
      const cache = responseCache({ redis: client, prefix: redis.prefix('cache:'), name: 'seam' });
      app.get('/page', cache, (req, res) => {
        // Never stored, so every request reaches the handler and reports what the session saw.
        res.set('Cache-Control', 'no-store');
        res.json({ loaded: !req.session.isNew, cache: req.responseCache });
      });
      value = cookieValue(await request(app).post('/login')) as string;
      expect(value).toBeDefined();
    });

    it('attack: a session cookie behind a public cookie (comma, space, tab) loads no session', async () => {
      for (const header of [`_ga=1, sid=${value}`, `_ga=1 sid=${value}`, `_ga=1\tsid=${value}`]) {
        const res = await request(app).get('/page').set('Cookie', header);
        expect(res.body.loaded, header).toBe(false);
      }
      const plain = await request(app).get('/page').set('Cookie', `_ga=1; sid=${value}`);
      expect(plain.body).toEqual({ loaded: true, cache: 'bypass' });
    });

    it('property: over raw header bytes, every request that loads a session bypasses the cache', async () => {
      // What an HTTP client may put in a header value: tab, visible ASCII and obs-text.
      const headerByte = fc
        .integer({ min: 0x20, max: 0xff })
        .map((c) => String.fromCharCode(c === 0x7f ? 0x09 : c));
      let loaded = 0;
      await fc.assert(
        fc.asyncProperty(headerOf(value, headerByte), async (header) => {
          const res = await request(app).get('/page').set('Cookie', header);
          expect(res.status).toBe(200);
          if (res.body.loaded) {
            loaded++;
            expect(res.body.cache, header).toBe('bypass');
          }
        }),
        { numRuns: 300 },
      );
      expect(loaded).toBeGreaterThan(5);
    });
  });
});
