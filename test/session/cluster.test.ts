// Users' sessions on a real 3-master Redis Cluster: every session operation stays in one slot per call.
import type { Cluster } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SessionMiddleware, session } from '../../src/index.js';
import { type RedisCluster, startCluster } from '../helpers/cluster.js';
import { expressVersions } from '../helpers/express.js';
import { cookieValue, keyOf, SECRET, sessionApp } from './support.js';

let cluster: RedisCluster;
let client: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
  client = cluster.client();
});
afterAll(async () => {
  await cluster?.stop();
});

describe.each(expressVersions)('%s on Redis Cluster', (name, express) => {
  const prefix = `sess${name.replace(/\D/g, '')}:`;
  let sessions: SessionMiddleware;
  let app: ReturnType<typeof sessionApp>;

  beforeAll(() => {
    sessions = session({ redis: client, secret: SECRET, prefix, maxSessionsPerUser: 3 });
    app = sessionApp(express, sessions);
  });

  const slot = (key: string) => client.call('CLUSTER', 'KEYSLOT', key) as Promise<number>;

  it('anonymous sessions, sign-in, list, revoke and revokeAll work across masters', async () => {
    const anon = await request(app).post('/set?cart=2');
    const anonCookie = `sid=${cookieValue(anon)}`;
    expect((await request(app).get('/state').set('Cookie', anonCookie)).body.data).toEqual({ cart: 2 });

    // Sign-in from an anonymous session: the new session is in the user's slot, the old one in another.
    const laptop = await request(app)
      .post('/sign-in/ada')
      .set('Cookie', anonCookie)
      .set('User-Agent', 'Laptop');
    expect(laptop.body).toMatchObject({ userId: 'ada', data: { cart: 2 } });
    expect((await request(app).get('/state').set('Cookie', anonCookie)).body.isNew).toBe(true);
    const laptopKey = keyOf(prefix, cookieValue(laptop) as string);
    const index = laptopKey.replace(/:[^:]+$/, ':index');
    expect(await slot(laptopKey)).toBe(await slot(index));
    expect(await client.zcard(index)).toBe(1);

    const phone = await request(app).post('/sign-in/ada').set('User-Agent', 'Phone');
    const tablet = await request(app).post('/sign-in/ada').set('User-Agent', 'Tablet');
    const rows = await sessions.listForUser('ada', { current: phone.body.handle });
    expect(rows.map((r) => r.userAgent).sort()).toEqual(['Laptop', 'Phone', 'Tablet']);
    expect(rows.find((r) => r.current)?.handle).toBe(phone.body.handle);

    expect(await sessions.revoke('ada', tablet.body.handle)).toBe(true);
    expect(
      (
        await request(app)
          .get('/state')
          .set('Cookie', `sid=${cookieValue(tablet)}`)
      ).body.userId,
    ).toBeNull();

    expect(await sessions.revokeAll('ada', { except: phone.body.handle })).toBe(1);
    expect((await sessions.listForUser('ada')).map((r) => r.handle)).toEqual([phone.body.handle]);
    expect(
      (
        await request(app)
          .get('/state')
          .set('Cookie', `sid=${cookieValue(laptop)}`)
      ).body.userId,
    ).toBeNull();
    expect(
      (
        await request(app)
          .get('/state')
          .set('Cookie', `sid=${cookieValue(phone)}`)
      ).body.userId,
    ).toBe('ada');

    expect(await sessions.revokeAll('ada')).toBe(1);
    expect(await sessions.listForUser('ada')).toEqual([]);
  });

  it('regenerate, sign-out, switching users and maxSessionsPerUser work on Cluster', async () => {
    const first = await request(app).post('/sign-in/bob');
    const firstCookie = `sid=${cookieValue(first)}`;
    await request(app).post('/set?cart=5').set('Cookie', firstCookie);
    const regen = await request(app).post('/regenerate').set('Cookie', firstCookie);
    expect(regen.body).toMatchObject({ userId: 'bob', data: { cart: 5 } });
    expect((await sessions.listForUser('bob')).map((r) => r.handle)).toEqual([regen.body.handle]);

    const switched = await request(app)
      .post('/sign-in/cy')
      .set('Cookie', `sid=${cookieValue(regen)}`);
    expect(switched.body.userId).toBe('cy');
    expect(await sessions.listForUser('bob')).toEqual([]);

    const out = await request(app)
      .post('/sign-out')
      .set('Cookie', `sid=${cookieValue(switched)}`);
    expect(out.body.userId).toBeNull();
    expect(await sessions.listForUser('cy')).toEqual([]);

    const cookies: string[] = [];
    for (let i = 0; i < 4; i++) cookies.push(`sid=${cookieValue(await request(app).post('/sign-in/dee'))}`);
    expect(await sessions.listForUser('dee')).toHaveLength(3);
    expect(
      (
        await request(app)
          .get('/state')
          .set('Cookie', cookies[0] as string)
      ).body.userId,
    ).toBeNull();
  });

  it("different users' sessions spread over the masters", async () => {
    const slots = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const res = await request(app).post(`/sign-in/spread-${i}`);
      slots.add(await slot(keyOf(prefix, cookieValue(res) as string)));
    }
    const perNode = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
    expect(slots.size).toBeGreaterThan(6);
    expect(perNode.filter((n) => n > 0).length).toBe(3);
  });
});
