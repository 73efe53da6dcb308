// Node's request and response members read without a lookup by name: the same answers as `req.headers`,
// `res.getHeader(name)`, `object[name]` and `res.on('finish')`, on Node's objects (under Express and not), on
// HTTP/2's and on plain objects.
import { EventEmitter } from 'node:events';
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
import { member, onFinish, requestHeaders, responseHeader } from '../../src/core/index.js';
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

describe('member(object, name)', () => {
  it.each(expressVersions)(
    'reads under %s what a read by name reads: own, set by the router, inherited getters and methods',
    async (_name, express) => {
      const app = express();
      app.get('/items/:id', (req, res) => {
        res.status(201);
        const pairs = [
          [member(req, 'url'), req.url],
          [member(req, 'method'), req.method],
          [member(req, 'route'), req.route],
          [member(req, 'baseUrl'), req.baseUrl],
          [member(req, 'params'), req.params],
          [member(req, 'path'), req.path],
          [member(req, 'app'), req.app],
          [member(req, 'socket'), req.socket],
          [member(res, 'statusCode'), res.statusCode],
          [member(res, 'req'), res.req],
          [member(res, 'getHeader'), res.getHeader],
        ];
        const same = pairs.every(([a, b]) => a === b && a !== undefined);
        res.json({ same, path: member(req, 'path'), status: member(res, 'statusCode') });
      });
      const { body } = await request(app).get('/items/7?x=1').expect(201);
      expect(body).toEqual({ same: true, path: '/items/7', status: 201 });
    },
  );

  it('goes through getters and proxies as a read by name does', () => {
    const reads: string[] = [];
    const target = { plain: 1 };
    const proxy = new Proxy(target, {
      get(object, name, receiver) {
        reads.push(String(name));
        return Reflect.get(object, name, receiver);
      },
    });
    expect(member(proxy, 'plain')).toBe(1);
    expect(reads).toEqual(['plain']);
    const withGetter = {
      base: 2,
      get doubled() {
        return this.base * 2;
      },
    };
    expect(member(Object.create(withGetter) as typeof withGetter, 'doubled')).toBe(4);
  });
});

describe('onFinish(res, listener)', () => {
  it.each(expressVersions)(
    'calls the listener once, with the response as this, when a response under %s finishes',
    async (_name, express) => {
      const calls: { self: boolean; finished: boolean }[] = [];
      const app = express();
      app.use((_req, res, next) => {
        onFinish(res, function (this: Response) {
          calls.push({ self: this === res, finished: this.writableFinished });
        });
        next();
      });
      app.get('/', (_req, res) => res.send('ok'));
      await request(app).get('/').expect(200);
      await eventually(async () => calls.length === 1);
      expect(calls).toEqual([{ self: true, finished: true }]);
    },
  );

  it('still follows a response whose own `on` was replaced, as compression does', async () => {
    let finished = 0;
    const server = createServer((_req, res) => {
      const original = res.on;
      res.on = function (this: ServerResponse, event: string, listener: (...args: unknown[]) => void) {
        return original.call(this, event, listener);
      } as typeof res.on;
      onFinish(res, () => {
        finished += 1;
      });
      res.end('ok');
    });
    await request(server).get('/').expect(200);
    await eventually(async () => finished === 1);
    expect(finished).toBe(1);
  });

  it('adds the listener with the object’s own `on` when it is not a Node response', () => {
    const added: string[] = [];
    const emitter = new (class extends EventEmitter {
      override on(event: string | symbol, listener: (...args: unknown[]) => void): this {
        added.push(String(event));
        return super.on(event, listener);
      }
    })();
    let self: unknown;
    onFinish(emitter, function (this: unknown) {
      self = this;
    });
    emitter.emit('finish');
    expect(added).toEqual(['finish']);
    expect(self).toBe(emitter);
  });
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
