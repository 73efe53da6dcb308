// Node's request and response members read without a lookup by name: the same answers as `req.headers` and
// `res.getHeader(name)`, on Node's objects (under Express and not), on HTTP/2's and on plain objects.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { requestHeaders, responseHeader } from '../../src/core/index.js';
import { pageViews } from '../../src/index.js';
import { expressVersions } from '../helpers/express.js';
import { BROWSER_UA } from '../helpers/http.js';
import { http2Get } from '../helpers/http2.js';
import { useTestRedis } from '../helpers/redis.js';
import { eventually, todayUtc } from '../page-views/support.js';

const redis = useTestRedis();

/** What the handler saw: the two readings of each member, side by side. */
interface Seen {
  headers: [unknown, unknown];
  assigned: [unknown, unknown];
  type: [unknown, unknown];
  missing: [unknown, unknown];
}

function inspect(req: IncomingMessage, res: ServerResponse): Seen {
  const seen: Partial<Seen> = {};
  seen.headers = [requestHeaders(req), req.headers];
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  seen.type = [responseHeader(res, 'content-type'), res.getHeader('content-type')];
  seen.missing = [responseHeader(res, 'x-none'), res.getHeader('x-none')];
  // a middleware that rewrites the headers (as some proxies' helpers do) is seen by both readings
  req.headers = { ...req.headers, 'x-rewritten': 'yes' };
  seen.assigned = [requestHeaders(req), req.headers];
  return seen as Seen;
}

function expectSame(seen: Seen): void {
  expect(seen.headers[0]).toBe(seen.headers[1]);
  expect((seen.headers[0] as Record<string, string>)['x-test']).toBe('1');
  expect(seen.assigned[0]).toBe(seen.assigned[1]);
  expect((seen.assigned[0] as Record<string, string>)['x-rewritten']).toBe('yes');
  expect(seen.type).toEqual(['text/html; charset=utf-8', 'text/html; charset=utf-8']);
  expect(seen.missing).toEqual([undefined, undefined]);
}

describe('on Node’s request and response', () => {
  it('reads what req.headers and res.getHeader() read', async () => {
    let seen: Seen | undefined;
    const server = createServer((req, res) => {
      seen = inspect(req, res);
      res.end('ok');
    });
    await request(server).get('/').set('X-Test', '1').expect(200);
    expectSame(seen as Seen);
  });

  it.each(expressVersions)(
    'reads the same under %s, which gives each request its own prototype',
    async (_name, express) => {
      let seen: Seen | undefined;
      const app = express();
      app.get('/', (req, res) => {
        seen = inspect(req, res);
        res.end('ok');
      });
      await request(app).get('/').set('X-Test', '1').expect(200);
      expectSame(seen as Seen);
    },
  );
});

describe('on objects that are not Node’s HTTP/1 request and response', () => {
  it('reads a plain object’s own members by name', () => {
    const headers = { 'x-test': '1' };
    expect(requestHeaders({ headers })).toBe(headers);
    expect(responseHeader({ getHeader: (name: string) => `value of ${name}` }, 'content-type')).toBe(
      'value of content-type',
    );
    expect(responseHeader({}, 'content-type')).toBeUndefined();
  });

  it('counts a page view served over HTTP/2’s compatibility API', async () => {
    const prefix = redis.prefix('h2pv:');
    const views = pageViews({ redis: redis.client, prefix, flushInterval: '1h' });
    const server = createHttp2Server((req: Http2ServerRequest, res: Http2ServerResponse) => {
      const next: NextFunction = () => {
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.end('<!doctype html><title>h2</title>');
      };
      views(req as unknown as Request, res as unknown as Response, next);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (let i = 0; i < 2; i++) await http2Get(url, { 'user-agent': BROWSER_UA });
      // the view is counted once its response finishes, which may be after the client has read it
      await eventually(async () => {
        await views.flush();
        const [today] = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
        return today?.views === 2;
      });
      const [row] = await views.report({ from: todayUtc(), to: todayUtc(), granularity: 'day' });
      expect(row).toMatchObject({ route: '(unmatched)', views: 2, uniques: 1 });
    } finally {
      await views.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
