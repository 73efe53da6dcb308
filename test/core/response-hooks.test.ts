// The response hooks follow any response a session can be given: Node's http.ServerResponse through one wrapper on
// its prototype, and another kind (HTTP/2's compatibility API) through wrappers of its own.
import { createServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { session } from '../../src/index.js';
import { http2Get } from '../helpers/http2.js';
import { useTestRedis } from '../helpers/redis.js';
import { SECRET } from '../session/support.js';

const redis = useTestRedis();

describe('a session on an HTTP/2 response (not an http.ServerResponse)', () => {
  const sessions = session({ redis: redis.client, secret: SECRET, prefix: 'h2:sess:' });
  const server = createServer((req: Http2ServerRequest, res: Http2ServerResponse) => {
    const next: NextFunction = (error?: unknown) => {
      if (error !== undefined) {
        res.statusCode = 500;
        res.end(String(error));
        return;
      }
      const data = (req as unknown as Request).session as unknown as Record<string, number>;
      data.visits = (data.visits ?? 0) + 1;
      res.end(`visits ${data.visits}`);
    };
    sessions(req as unknown as Request, res as unknown as Response, next);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function get(url: string, cookie?: string): Promise<{ body: string; setCookie?: string }> {
    const { headers, body } = await http2Get(url, cookie ? { cookie } : {});
    const value = headers['set-cookie'];
    const setCookie = Array.isArray(value) ? value[0] : value;
    return { body, ...(setCookie ? { setCookie } : {}) };
  }

  it('stores the session before the response ends and reads it back on the next request', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const first = await get(url);
    expect(first.body).toBe('visits 1');
    const cookie = first.setCookie?.split(';')[0];
    expect(cookie).toMatch(/^sid=/);
    const second = await get(url, cookie);
    expect(second.body).toBe('visits 2');
  });
});
