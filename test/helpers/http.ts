// A real HTTP server for a test's app: started on a free loopback port, closed by the test or after the file.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import supertest from 'supertest';
import { afterAll } from 'vitest';

/** A desktop browser's User-Agent, for middlewares that tell browsers from bots. */
export const BROWSER_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/**
 * What a deadline assert allows past the timeout that sets the deadline: scheduling, HTTP and the handler on a
 * busy 2-core machine. Far below the seconds a request waiting on a frozen Redis would take.
 */
export const DEADLINE_MARGIN_MS = 400;

export interface Listening {
  readonly url: string;
  /** Closes every connection at once. */
  close(): Promise<void>;
  /** Stops accepting connections and resolves once the requests in flight have been answered. */
  closeGracefully(): Promise<void>;
}

/** Starts the app on a free port. */
export function listen(app: Express): Promise<Listening> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
        closeGracefully: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}

/**
 * For a test file whose apps live until its end: returns a function that starts an app and resolves with its
 * base URL; every app it started is closed after the file's tests.
 */
export function listenUntilAfterAll(): (app: Express) => Promise<string> {
  const started: Listening[] = [];
  afterAll(() => Promise.all(started.map((s) => s.close())));
  return async (app) => {
    const listening = await listen(app);
    started.push(listening);
    return listening.url;
  };
}

/** One listening server per app for {@link request}, closed after the test file. */
const servers = new WeakMap<object, Server>();
const opened: Server[] = [];
afterAll(
  () =>
    new Promise<void>((done) => {
      let left = opened.length;
      if (left === 0) done();
      for (const server of opened.splice(0)) {
        server.closeAllConnections();
        server.close(() => {
          if (--left === 0) done();
        });
      }
    }),
);

function serverOf(app: App): App {
  if (typeof app !== 'function') return app;
  let server = servers.get(app);
  if (server === undefined) {
    // Without a host, listen() binds at once, so supertest sees a started server and keeps using it.
    server = createServer(app as RequestListener).listen(0);
    servers.set(app, server);
    opened.push(server);
  }
  return server;
}

type App = Parameters<typeof supertest>[0];

/**
 * supertest, with every request to one app arriving at one server, so they carry the same `Host` (port
 * included) as a deployed app's requests do; the response cache keys on it. `request.agent` likewise.
 */
export const request = Object.assign((app: App) => supertest(serverOf(app)), {
  agent: (app: App) => supertest.agent(serverOf(app)),
});
