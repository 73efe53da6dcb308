// Property-based bad input against an app with all four middlewares, on Express 4 and 5: random and
// adversarial cookies, headers, URLs, query strings and beacon bodies, sent as raw bytes. Never a 5xx, never a
// crash or an unhandled rejection, and nothing stored in Redis for any of it.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen, watchUnhandledRejections } from '../faults/support.js';
import { expressVersions } from '../helpers/express.js';
import { type FullStack, fullStackApp } from '../helpers/full-stack.js';
import { useTestRedis } from '../helpers/redis.js';
import { configOf, scriptSrc, todayUtc } from '../page-views/support.js';
import { type RawAnswer, type RawRequest, rawRequest } from './raw-http.js';

const redis = useTestRedis();
const rejections = watchUnhandledRejections();
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

interface Target {
  readonly name: string;
  readonly stack: FullStack;
  readonly served: Listening;
  readonly port: number;
  readonly prefix: string;
  /** A valid session cookie value and a valid beacon token: only ever sent tampered. */
  readonly cookie: string;
  readonly token: string;
  readonly scriptUrl: string;
}
const targets: Target[] = [];

beforeAll(async () => {
  for (const [name, express] of expressVersions) {
    const prefix = redis.prefix(`${name.replace(/\D/g, '')}:`);
    const stack = fullStackApp({ redis: redis.client, prefix, express });
    const served = await listen(stack.app as never);
    const port = Number(new URL(served.url).port);
    // Warm up: cache entries for every product, the rate-limit log of 127.0.0.1, one real session.
    for (let id = 1; id <= 9; id++) await rawRequest(port, { target: `/products/${id}` });
    await rawRequest(port, { target: '/api/items' });
    const cart = await rawRequest(port, { method: 'POST', target: '/cart/1' });
    const cookie = /sid=([^;]+)/.exec(cart.head)?.[1];
    const home = await rawRequest(port, { target: '/' });
    const scriptUrl = scriptSrc(home.body.toString());
    const script = await rawRequest(port, { target: scriptUrl });
    if (!cookie) throw new Error('no session cookie');
    targets.push({
      name,
      stack,
      served,
      port,
      prefix,
      cookie,
      token: configOf(script.body.toString()).t,
      scriptUrl,
    });
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
});

afterAll(async () => {
  rejections.dispose();
  for (const t of targets) {
    await t.served.close();
    await t.stack.close();
  }
});

/**
 * Every key of a target with its content (DUMP), except the rate-limit log, which every request may add to,
 * and the rate-limit statistics, which every request counts in and which start a new key each minute.
 */
async function snapshot(prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const counted = key.startsWith(`${prefix}rl:`);
      if (counted && key.includes(':stats:')) continue;
      out.set(
        key,
        counted ? 'rate-limit log' : ((await redis.client.dumpBuffer(key))?.toString('hex') ?? 'gone'),
      );
    }
  } while (cursor !== '0');
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Sends one request to every target; fails on a 5xx or a missing answer, then checks `expectation`. */
async function sendToAll(
  request: RawRequest,
  expectation: (answer: RawAnswer, target: Target) => void = () => {},
): Promise<void> {
  for (const target of targets) {
    const answer = await rawRequest(target.port, request);
    const shown = `${target.name}: ${answer.head.split('\r\n')[0]}`;
    if (request.truncateBodyAt === undefined && answer.status === null)
      throw new Error(`${shown}: no answer`);
    if (answer.status !== null && answer.status >= 500) {
      throw new Error(`${shown}: ${answer.body.toString().slice(0, 200)}`);
    }
    expectation(answer, target);
  }
}

/** Runs a property, then checks that nothing was stored and no promise rejection went unhandled. */
async function holds<Ts extends [unknown, ...unknown[]]>(
  property: fc.IAsyncPropertyWithHooks<Ts>,
): Promise<void> {
  const before = await Promise.all(targets.map((t) => snapshot(t.prefix)));
  await fc.assert(property, { numRuns: RUNS });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const after = await Promise.all(targets.map((t) => snapshot(t.prefix)));
  targets.forEach((_, i) => {
    expect([...(after[i] as Map<string, string>).entries()]).toEqual([
      ...(before[i] as Map<string, string>).entries(),
    ]);
  });
  expect(rejections.seen).toEqual([]);
}

// --- Arbitraries -------------------------------------------------------------------------------------------

/** Bytes that keep the HTTP framing (no CR or LF), including NUL, controls and invalid UTF-8. */
const lineBytes = (maxLength: number) =>
  fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0d && b !== 0x0a)));

/** Invalid UTF-8 on purpose: lone continuation bytes, overlong encodings, truncated sequences, surrogates. */
const invalidUtf8 = fc.constantFrom(
  Buffer.from([0x80]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xe0, 0x80, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xe2, 0x82]),
);

/** Any text, astral planes and lone surrogates included (sent percent-encoded, as a browser would). */
const anyText = (minLength: number, maxLength: number) => fc.string({ unit: 'binary', minLength, maxLength });

/**
 * Exactly `length` UTF-16 units, mostly ASCII with some characters from the rest of the Basic Multilingual
 * Plane: the right length for a signature in characters, but not in bytes.
 */
const mixedText = (length: number) =>
  fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
        { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xd7ff }) },
      ),
      { minLength: length, maxLength: length },
    )
    .map((codes) => String.fromCharCode(...codes));

const huge = fc.integer({ min: 2_000, max: 20_000 }).map((n) => Buffer.alloc(n, 'a'));

const headerValue = fc.oneof(
  { weight: 4, arbitrary: lineBytes(200) },
  { weight: 2, arbitrary: fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)) },
  {
    weight: 2,
    arbitrary: fc.array(invalidUtf8, { minLength: 1, maxLength: 5 }).map((b) => Buffer.concat(b)),
  },
  { weight: 1, arbitrary: huge },
);

/** A change to a valid value that always breaks it: a character swapped, dropped, added, or the case flipped. */
function tampered(value: () => string) {
  return fc
    .tuple(
      fc.nat(),
      fc.constantFrom('swap', 'drop', 'add', 'case', 'truncate'),
      fc.constantFrom(...'aZ09-_.=é'),
    )
    .map(([n, how, char]) => {
      const v = value();
      const i = n % v.length;
      const c = v[i] as string;
      switch (how) {
        case 'swap':
          return v.slice(0, i) + (c === char ? (c === 'a' ? 'b' : 'a') : char) + v.slice(i + 1);
        case 'drop':
          return v.slice(0, i) + v.slice(i + 1);
        case 'add':
          return v.slice(0, i) + char + v.slice(i);
        case 'case': {
          const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
          return flipped === c ? `${v}x` : v.slice(0, i) + flipped + v.slice(i + 1);
        }
        default:
          return v.slice(0, i);
      }
    });
}

/** The first target's token with its MAC replaced by any 22 characters (often more than 22 bytes). */
const forgedMac = () =>
  mixedText(22)
    .filter((mac) => !mac.includes('.'))
    .map((mac) => {
      const [issued, nonce, , ...route] = (targets[0] as Target).token.split('.');
      return [issued, nonce, mac, ...route].join('.');
    });

const cookieValue = (target: () => Target) =>
  fc.oneof(
    lineBytes(120),
    fc.stringMatching(/^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}$/).map((s) => Buffer.from(s)),
    fc.stringMatching(/^[A-Za-z0-9_-]{55}\.[A-Za-z0-9_-]{43}$/).map((s) => Buffer.from(s)),
    tampered(() => target().cookie).map((s) => Buffer.from(s)),
    tampered(() => target().cookie).map((s) => Buffer.from(`"${s}"`, 'latin1')),
    huge,
  );

describe('bad input never gets a 5xx, never crashes, and stores nothing', () => {
  // Every target gets the same input; tampered values are made from the first target's cookie and token,
  // which are just as foreign to the second.
  const first = () => targets[0] as Target;

  it('cookies: random, malformed, oversized, tampered and duplicated session cookies', async () => {
    await holds(
      fc.asyncProperty(
        fc.array(cookieValue(first), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('/', '/state', '/products/2', '/api/items', '/nowhere'),
        fc.boolean(),
        async (values, path, asSid) => {
          const pairs = values.map((v) => Buffer.concat([Buffer.from(asSid ? 'sid=' : 'x='), v]));
          const header = Buffer.concat([
            Buffer.from('Cookie: '),
            ...pairs.flatMap((p, i) => (i ? [Buffer.from('; '), p] : [p])),
          ]);
          await sendToAll({ target: path, headers: [header] }, (answer) => {
            if (path === '/state' && answer.status === 200)
              expect(JSON.parse(answer.body.toString()).isNew).toBe(true);
            // A cookie that is not ours is never answered with a new session id.
            expect(/set-cookie: sid=[^;\s]/i.test(answer.head)).toBe(false);
          });
        },
      ),
    );
  });

  it('headers: random names and values, invalid UTF-8, oversized, repeated', async () => {
    const names = fc.oneof(
      fc.constantFrom(
        'User-Agent',
        'Accept',
        'Accept-Encoding',
        'Accept-Language',
        'If-None-Match',
        'If-Modified-Since',
        'X-Forwarded-For',
        'X-Forwarded-Host',
        'X-Forwarded-Proto',
        'Forwarded',
        'Sec-Fetch-Dest',
        'Sec-Fetch-Site',
        'Sec-Purpose',
        'Purpose',
        'Cache-Control',
        'Pragma',
        'Authorization',
        'Range',
        'Content-Type',
        'Content-Length',
        'Transfer-Encoding',
        'Expect',
        'Origin',
        'Vary',
      ),
      fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}$/),
    );
    await holds(
      fc.asyncProperty(
        fc.array(fc.tuple(names, headerValue), { maxLength: 6 }),
        fc.constantFrom('/', '/products/2', '/products/7', '/api/items', '/state', '/_pv.js'),
        fc.constantFrom('GET', 'HEAD'),
        async (headers, path, method) => {
          const lines = headers.map(([name, value]) => Buffer.concat([Buffer.from(`${name}: `), value]));
          await sendToAll({ method, target: path, headers: lines });
        },
      ),
    );
  });

  it('URLs and query strings: percent-encoding gone wrong, raw bytes, dot segments, huge, prototype keys', async () => {
    const segment = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9._~-]{0,12}$/).map((s) => Buffer.from(s)),
      fc
        .uint8Array({ maxLength: 12 })
        .map((b) => Buffer.from([...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join(''))),
      fc
        .constantFrom(
          '%',
          '%Z1',
          '%E0%A4',
          '%C0%AF',
          '%ED%A0%80',
          '%00',
          '..',
          '.',
          '%2e%2e',
          '%2F',
          '\\',
          ';a=b',
        )
        .map((s) => Buffer.from(s)),
      fc.array(invalidUtf8, { minLength: 1, maxLength: 3 }).map((b) => Buffer.concat(b)),
      fc.integer({ min: 1_000, max: 9_000 }).map((n) => Buffer.alloc(n, 'p')),
    );
    const queryPart = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_]{0,8}(\[[A-Za-z0-9_]{0,6}\]){0,8}$/),
      fc.constantFrom(
        '__proto__',
        'constructor',
        'prototype',
        '__proto__[x]',
        'a[__proto__][b]',
        'hasOwnProperty',
        '%',
        '%ff',
        '&&&',
        '=',
      ),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    );
    const query = fc
      .array(fc.tuple(queryPart, queryPart), { maxLength: 8 })
      .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
    await holds(
      fc.asyncProperty(
        fc.constantFrom('/', '/products/', '/cart/', '/api/', '/_pv.js', '/_pv', '/state/'),
        fc.array(segment, { maxLength: 4 }),
        fc.option(query),
        fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'PATCH'),
        async (base, segments, q, method) => {
          const path = Buffer.concat([
            Buffer.from(base),
            ...segments.flatMap((s, i) => (i ? [Buffer.from('/'), s] : [s])),
          ]);
          const target = q === null ? path : Buffer.concat([path, Buffer.from(`?${q}`)]);
          // Spaces, CR and LF cannot be in a request target: they would end it.
          const clean = Buffer.from(target.filter((b) => b !== 0x20 && b !== 0x0d && b !== 0x0a));
          await sendToAll({ method, target: clean });
        },
      ),
    );
  });

  it('page-view script requests with forged page references get a 400', async () => {
    await holds(
      fc.asyncProperty(
        fc.oneof(
          // Tampered, but not only in the case of a percent-escape (`%2F` → `%2f` is the same reference).
          tampered(() => first().scriptUrl.slice(first().scriptUrl.indexOf('?') + 1)).filter((query) => {
            const given = new URLSearchParams(query);
            const real = new URLSearchParams(first().scriptUrl.slice(first().scriptUrl.indexOf('?') + 1));
            return given.get('r') !== real.get('r') || given.get('s') !== real.get('s');
          }),
          fc.string({ maxLength: 60 }).map(encodeURIComponent),
          fc
            .tuple(anyText(0, 400), anyText(0, 20))
            .map(([r, sig]) => `r=${encodeURIComponent(r)}&s=${encodeURIComponent(sig)}`),
          // A signature of the right length in characters but not in bytes.
          fc
            .tuple(fc.constantFrom('%2F', '%2Fproducts%2F%3Aid'), mixedText(16))
            .map(([r, sig]) => `r=${r}&s=${encodeURIComponent(sig)}`),
        ),
        async (query) => {
          const target = Buffer.from(`/_pv.js?${query}`.replace(/[\s]/g, ''), 'utf8');
          await sendToAll({ target }, (answer) => {
            expect(answer.status).toBe(400);
          });
        },
      ),
    );
  });

  it('beacon bodies: garbage, wrong types, forged and tampered tokens, oversized, chunked, cut short', async () => {
    const contentType = fc.option(
      fc.oneof(
        fc.constantFrom(
          'text/plain',
          'text/plain;charset=UTF-8',
          'application/json',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/octet-stream',
          'TEXT/PLAIN',
          '',
        ),
        lineBytes(40).map((b) => b.toString('latin1')),
      ),
    );
    const token = fc.oneof(
      tampered(() => first().token),
      fc.stringMatching(/^[0-9a-z]{8}\.[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9%_-]{1,30}$/),
      fc.string({ maxLength: 500 }),
      fc.constantFrom('', '....', 'a.b.c.d', first().token.replace(/\.[^.]+$/, '.forged')),
      forgedMac(),
    );
    const number = fc.oneof(
      fc.integer({ min: -5, max: 200_000 }),
      fc.double(),
      fc.constantFrom(1e308, -0, Number.MAX_SAFE_INTEGER + 2),
      fc.string({ maxLength: 6 }),
      fc.constant(null),
    );
    const json = fc.oneof(
      fc.record({ t: token, s: number, ms: number }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.json({ maxDepth: 3 }),
      fc.constantFrom(
        '{"t":',
        'null',
        '[]',
        '{"__proto__":{"t":"x"}}',
        '"string"',
        '{"t":"a","s":1,"ms":1,"t":"b"}',
      ),
    );
    const body = fc.oneof(
      { weight: 5, arbitrary: json.map((s) => Buffer.from(s)) },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 1_200 }).map((b) => Buffer.from(b)) },
      {
        weight: 1,
        arbitrary: fc.array(invalidUtf8, { minLength: 1, maxLength: 20 }).map((b) => Buffer.concat(b)),
      },
      { weight: 1, arbitrary: fc.integer({ min: 1_025, max: 64_000 }).map((n) => Buffer.alloc(n, '{')) },
    );
    const framing = fc.oneof(
      fc.constant({}),
      fc.integer({ min: 1, max: 300 }).map((chunked) => ({ chunked })),
      fc.nat({ max: 50 }).map((truncateBodyAt) => ({ truncateBodyAt })),
    );
    await holds(
      fc.asyncProperty(contentType, body, framing, async (type, bytes, frame) => {
        const headers =
          type === null ? [] : [Buffer.concat([Buffer.from('Content-Type: '), Buffer.from(type, 'latin1')])];
        await sendToAll({ method: 'POST', target: '/_pv', headers, body: bytes, ...frame }, (answer) => {
          if (answer.status !== null) expect([400, 403, 409, 413, 415]).toContain(answer.status);
        });
      }),
    );
  });

  it('well-formed beacons with a forged or tampered token get a 403', async () => {
    await holds(
      fc.asyncProperty(
        fc.oneof(
          tampered(() => first().token),
          forgedMac(),
        ),
        fc.integer({ min: 1, max: 100_000 }),
        fc.nat({ max: 3_600_000 }),
        async (t, s, ms) => {
          const body = JSON.stringify({ t, s, ms });
          await sendToAll(
            { method: 'POST', target: '/_pv', headers: ['Content-Type: text/plain'], body },
            (answer) => {
              expect(answer.status).toBe(403);
            },
          );
        },
      ),
    );
  });

  it('counted only real pages afterwards: page views hold the known routes, no beacon state, no time sums', async () => {
    // Bad input of each kind sent here, so this holds whichever tests ran before (or alone).
    const tamper = (value: string) => `${value.slice(0, -2)}${value.endsWith('A') ? 'BB' : 'AA'}`;
    for (const target of targets) {
      const bad = [
        { target: '/', headers: [`Cookie: sid=${tamper(target.cookie)}`] },
        { target: '/', headers: ['Cookie: sid=\u0000%zz;sid=;;=='] },
        { target: '/products/%zz' },
        { target: '/products/../../etc/passwd' },
        { target: '/no/such/page' },
        { target: tamper(target.scriptUrl) },
        { method: 'POST', target: '/_pv', headers: ['Content-Type: text/plain'], body: 'not json' },
        {
          method: 'POST',
          target: '/_pv',
          headers: ['Content-Type: text/plain'],
          body: JSON.stringify({ t: tamper(target.token), s: 1, ms: 5_000 }),
        },
      ];
      for (const request of bad) {
        const answer = await rawRequest(target.port, request);
        expect(answer.status, request.target).toBeLessThan(500);
      }
    }
    for (const target of targets) {
      await target.stack.views.flush();
      const today = todayUtc();
      const rows = await target.stack.views.report({ from: today, to: today, granularity: 'day' });
      expect(rows.map((r) => r.route).sort()).toEqual(['/', '/products/:id']);
      expect(rows.every((r) => r.timedViews === 0)).toBe(true);
      const keys = await snapshot(target.prefix);
      expect([...keys.keys()].filter((k) => /:pv:\{[^}]*\}:(k|t):/.test(k))).toEqual([]);
      expect(
        [...keys.keys()].filter((k) => k.startsWith(`${target.prefix}rl:`) && !k.includes(':stats:')),
      ).toHaveLength(1);
      expect(target.stack.logger.lines.filter((l) => l.level === 'error')).toEqual([]);
      // Still serving.
      expect((await rawRequest(target.port, { target: '/products/3' })).status).toBe(200);
    }
    expect(rejections.seen).toEqual([]);
  });
});
