// The session reads and writes of requests that arrive together share script calls: each request still gets
// its own session, never another visitor's, each write lands in its own session, and a visitor whose session
// is gone gets none and does not bring it back.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { session } from '../../src/index.js';
import { useCountingServer } from '../helpers/counting-server.js';
import { expressVersions } from '../helpers/express.js';
import { keyOf, SECRET, sessionApp } from './support.js';

const counting = useCountingServer();
const VISITORS = 40;

describe.each(expressVersions)('%s', (name, express) => {
  let server: Server;
  let base: string;
  const prefix = `batch${name.replace(/\D/g, '')}:`;

  beforeAll(async () => {
    const sessions = session({ redis: counting.client, secret: SECRET, prefix, idleTimeout: '10m' });
    server = sessionApp(express, sessions).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  /** A visitor with a session holding `owner`; returns their cookie value. */
  async function visitor(owner: string): Promise<string> {
    const response = await fetch(`${base}/set?owner=%22${owner}%22`, { method: 'POST' });
    const cookie = /sid=([^;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1];
    if (cookie === undefined) throw new Error('no session cookie');
    return cookie;
  }

  it('40 visitors reading at once each see their own session, in fewer script calls than requests', async () => {
    const cookies = await Promise.all(Array.from({ length: VISITORS }, (_, i) => visitor(`visitor-${i}`)));
    // One visitor's session ends meanwhile: their request must come back without a session, not with another's.
    await counting.client.del(keyOf(prefix, decodeURIComponent(cookies[7] as string)));

    const { result, commands } = await counting.count(() =>
      Promise.all(
        cookies.map(async (cookie) => {
          const response = await fetch(`${base}/state`, { headers: { cookie: `sid=${cookie}` } });
          return (await response.json()) as { isNew: boolean; data: { owner?: string } };
        }),
      ),
    );
    result.forEach((state, i) => {
      if (i === 7) {
        expect(state.isNew).toBe(true);
        expect(state.data).toEqual({});
      } else {
        expect(state.data.owner).toBe(`visitor-${i}`);
      }
    });
    const scripts = commands.filter((c) => ['eval', 'evalsha'].includes(c[0]?.toLowerCase() ?? ''));
    expect(scripts.length).toBeGreaterThanOrEqual(1);
    expect(scripts.length).toBeLessThan(VISITORS);
  });

  it('40 visitors writing at once each change only their own session, in fewer script calls than writes', async () => {
    const cookies = await Promise.all(Array.from({ length: VISITORS }, (_, i) => visitor(`writer-${i}`)));
    // Both requests of one visitor read the session; it ends before their writes go out.
    const goneKey = keyOf(prefix, decodeURIComponent(cookies[11] as string));

    const { result, commands } = await counting.count(() =>
      Promise.all(
        cookies.map(async (cookie, i) => {
          const wait = i === 11 ? '&wait=150' : '';
          if (i === 11) setTimeout(() => void counting.client.del(goneKey), 50);
          const response = await fetch(`${base}/set?mark=${i}${wait}`, {
            method: 'POST',
            headers: { cookie: `sid=${cookie}` },
          });
          return response.status;
        }),
      ),
    );
    expect(result.every((status) => status === 200)).toBe(true);
    const states = await Promise.all(
      cookies.map(async (cookie) => {
        const response = await fetch(`${base}/state`, { headers: { cookie: `sid=${cookie}` } });
        return (await response.json()) as { isNew: boolean; data: { owner?: string; mark?: number } };
      }),
    );
    states.forEach((state, i) => {
      if (i === 11) {
        expect(state.isNew).toBe(true);
        expect(state.data).toEqual({});
      } else {
        expect(state.data).toEqual({ owner: `writer-${i}`, mark: i });
      }
    });
    expect(await counting.client.exists(goneKey)).toBe(0);
    // 40 reads and 40 writes: one script call each would be 80; the writes alone would be 40.
    const scripts = commands.filter((c) => ['eval', 'evalsha'].includes(c[0]?.toLowerCase() ?? ''));
    expect(scripts.length).toBeLessThan(VISITORS);
  });
});
