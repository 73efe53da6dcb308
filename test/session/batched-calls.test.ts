// The session reads of requests that arrive together share one script call: each request still gets its own
// session, never another visitor's, and a visitor whose session is gone gets none.

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
});
