// clientSideCaching: returning visitors served from memory between two slides, with every change made
// anywhere (another server's write, a revocation, this server's own write) seen at once or within the
// invalidation's delivery, and no copy served once Redis could have slid or ended the session.
import type { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { session } from '../../src/index.js';
import { configErrorCode } from '../helpers/config-error.js';
import { useCountingServer } from '../helpers/counting-server.js';
import { expressVersions } from '../helpers/express.js';
import { cookieValue, keyOf, SECRET, sessionApp, sleep } from './support.js';

const counting = useCountingServer();

/** Polls `check` until it holds, for at most `ms`; returns how long it took (or throws with the last value). */
async function within<T>(ms: number, probe: () => Promise<T>, holds: (value: T) => boolean): Promise<number> {
  const started = Date.now();
  let last: T = await probe();
  while (!holds(last)) {
    if (Date.now() - started > ms) throw new Error(`still ${JSON.stringify(last)} after ${ms} ms`);
    await sleep(5);
    last = await probe();
  }
  return Date.now() - started;
}

describe.each(expressVersions)('%s', (name, express) => {
  const prefix = `csc${name.replace(/\D/g, '')}:`;
  let client: Redis;
  let sessions: ReturnType<typeof session>;
  let elsewhere: ReturnType<typeof session>;
  let app: ReturnType<typeof sessionApp>;
  let otherServer: ReturnType<typeof sessionApp>;

  beforeAll(async () => {
    client = counting.client;
    const options = { secret: SECRET, prefix, idleTimeout: '10m', touchAfter: '2s' } as const;
    sessions = session({ ...options, redis: client, clientSideCaching: true });
    // Another app server on the same Redis, with its own connection and its own copies.
    elsewhere = session({ ...options, redis: counting.connect(), clientSideCaching: { maxSessions: 10 } });
    app = sessionApp(express, sessions);
    otherServer = sessionApp(express, elsewhere);
    await sleep(100); // both connections of each middleware up and tracking on
  });
  afterAll(async () => {
    await sessions.close();
    await elsewhere.close();
  });

  async function returningVisitor(query = 'cart=3'): Promise<string> {
    const value = cookieValue(await request(app).post(`/set?${query}`)) as string;
    // The first read goes to Redis (on the tracked connection) and keeps the copy.
    expect((await request(app).get('/state').set('Cookie', `sid=${value}`)).body.data).toBeDefined();
    return value;
  }

  it('serves a returning visitor from memory: no Redis command at all, the same data', async () => {
    const value = await returningVisitor();
    for (let i = 0; i < 3; i++) {
      const { result, commands, processed } = await counting.count(() =>
        request(app).get('/state').set('Cookie', `sid=${value}`),
      );
      expect(result.body.data).toEqual({ cart: 3 });
      expect(result.body.isNew).toBe(false);
      expect(commands).toEqual([]);
      expect(processed).toBe(0);
    }
  });

  it("sees this server's own write on the very next request", async () => {
    const value = await returningVisitor();
    await request(app).post('/set?cart=4').set('Cookie', `sid=${value}`);
    expect((await request(app).get('/state').set('Cookie', `sid=${value}`)).body.data).toEqual({ cart: 4 });
  });

  it("sees another server's write once Redis's invalidation arrives", async () => {
    const value = await returningVisitor();
    await request(otherServer).post('/set?cart=9').set('Cookie', `sid=${value}`);
    const took = await within(
      250,
      async () => (await request(app).get('/state').set('Cookie', `sid=${value}`)).body.data,
      (data) => data.cart === 9,
    );
    expect(took).toBeLessThan(250);
  });

  it('attack: a session revoked on another server stops working here, and the stolen cookie never works again', async () => {
    const victim = await request(app).post('/sign-in/alice');
    const stolen = cookieValue(victim) as string;
    const seen = await request(app).get('/state').set('Cookie', `sid=${stolen}`);
    expect(seen.body.userId).toBe('alice');
    // Alice, on a device served by the other server, signs out everywhere.
    await elsewhere.revokeAll('alice');
    await within(
      250,
      async () => (await request(app).get('/state').set('Cookie', `sid=${stolen}`)).body.userId ?? null,
      (userId) => userId === null,
    );
    for (let i = 0; i < 5; i++) {
      const replay = await request(app).get('/state').set('Cookie', `sid=${stolen}`);
      expect(replay.body.userId).toBeNull();
      expect(replay.body.data).toEqual({});
    }
  });

  it('a session deleted in Redis directly (an operator, a FLUSHDB) is gone here too', async () => {
    const value = await returningVisitor('cart=5');
    await client.del(keyOf(prefix, value));
    await within(
      250,
      async () => (await request(app).get('/state').set('Cookie', `sid=${value}`)).body.data,
      (data) => data.cart === undefined,
    );
  });

  it('goes back to Redis once touchAfter has passed, which slides the session again', async () => {
    const value = await returningVisitor('cart=6');
    const key = keyOf(prefix, value);
    await sleep(2_100);
    const { result, commands } = await counting.count(() =>
      request(app).get('/state').set('Cookie', `sid=${value}`),
    );
    expect(result.body.data).toEqual({ cart: 6 });
    expect(commands).toHaveLength(1);
    expect(commands[0]).toContain(key);
    expect(await client.pttl(key)).toBeGreaterThan(595_000);
  });

  it('drops every copy when the invalidation connection is lost, and serves from memory again once it is back', async () => {
    const value = await returningVisitor('cart=7');
    await client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const { result, commands } = await counting.count(() =>
      request(app).get('/state').set('Cookie', `sid=${value}`),
    );
    expect(result.body.data).toEqual({ cart: 7 });
    // The read went to Redis (the reconnection's own commands may show up beside it).
    expect(commands.filter((c) => c[0] === 'evalsha' || c[0] === 'eval')).toHaveLength(1);
    // ioredis reconnects; tracking is pointed at the new connection; copies are kept again.
    await within(
      3_000,
      async () => {
        await request(app).get('/state').set('Cookie', `sid=${value}`);
        return (await counting.count(() => request(app).get('/state').set('Cookie', `sid=${value}`))).commands
          .length;
      },
      (n) => n === 0,
    );
  });
});

describe('clientSideCaching options', () => {
  it('needs touchAfter above zero: with 0 every request slides the session in Redis', () => {
    const make = (options: Partial<Parameters<typeof session>[0]>) => () =>
      session({ redis: counting.client, secret: SECRET, touchAfter: '1m', ...options });
    expect(configErrorCode(make({ touchAfter: 0, clientSideCaching: true }))).toBe('ERR_OPTION_VALUE');
    expect(configErrorCode(make({ clientSideCaching: { maxSessions: 0 } }))).toBe('ERR_OPTION_RANGE');
    expect(configErrorCode(make({ clientSideCaching: { maxSession: 5 } as never }))).toBe(
      'ERR_OPTION_UNKNOWN',
    );
  });

  it('close() closes the two connections it opened and leaves the given client open', async () => {
    const client = counting.connect();
    const clients = async () =>
      String(await client.client('LIST'))
        .trim()
        .split('\n').length;
    const before = await clients();
    const sessions = session({ redis: client, secret: SECRET, touchAfter: '1m', clientSideCaching: true });
    await within(1_000, clients, (n) => n === before + 2);
    await sessions.close();
    await within(1_000, clients, (n) => n === before);
    expect(await client.ping()).toBe('PONG');
  });
});
