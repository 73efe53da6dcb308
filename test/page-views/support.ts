// Shared helpers of the page-view tests: a load generator, a server-sent-event reader, and the listening app.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { BROWSER_UA } from '../helpers/http.js';

export { BROWSER_UA, type Listening, listen } from '../helpers/http.js';

export const HTML_PAGE = '<!doctype html><title>t</title><p>hello</p>';

/**
 * Sends `count` GET requests with `concurrency` in flight over keep-alive connections; `pick(i)` gives each
 * request's path and headers. Resolves with the status codes.
 */
export async function load(
  base: string,
  count: number,
  pick: (i: number) => { path: string; headers?: Record<string, string> },
  concurrency = 32,
): Promise<number[]> {
  const statuses: number[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const { path, headers } = pick(i);
      const response = await fetch(base + path, { headers: { 'user-agent': BROWSER_UA, ...headers } });
      await response.arrayBuffer();
      statuses[i] = response.status;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

export interface EventStream {
  readonly response: IncomingMessage;
  /** Everything received so far. */
  text(): string;
  /** Parsed events `{ event, data }` received so far (comments excluded). */
  events(): { event: string; data: string }[];
  /** Resolves once `predicate` holds for the received text (rejects after `timeoutMs`). */
  until(predicate: (text: string) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens a server-sent-event stream with a plain HTTP request. */
export function openEventStream(url: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream' } }, (response) => {
      let received = '';
      const waiters = new Set<() => void>();
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        received += chunk;
        for (const waiter of waiters) waiter();
      });
      response.on('error', () => {});
      resolve({
        response,
        text: () => received,
        events: () =>
          received
            .split('\n\n')
            .filter((block) => block.includes('data: '))
            .map((block) => {
              const lines = block.split('\n');
              const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
              const data = lines.find((l) => l.startsWith('data: '))?.slice(6) ?? '';
              return { event, data };
            }),
        until: (predicate, timeoutMs = 8_000) =>
          new Promise<void>((done, fail) => {
            if (predicate(received)) return done();
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`event stream condition not met; received:\n${received}`));
            }, timeoutMs);
            const check = (): void => {
              if (!predicate(received)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done();
            };
            waiters.add(check);
          }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true (rejects after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

/** Today in UTC, `YYYY-MM-DD`. */
export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The day `days` after `day` (before, when negative), both `YYYY-MM-DD`. */
export function shiftDay(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** The ISO week of a day, `YYYY-Www`: computed here with the Thursday rule, apart from the library's code. */
export function isoWeek(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  const weekday = (date.getUTCDay() + 6) % 7;
  date.setUTCDate(date.getUTCDate() - weekday + 3);
  const weekYear = date.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(weekYear, 0, 4));
  firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3);
  const week = 1 + Math.round((date.getTime() - firstThursday.getTime()) / (7 * 86_400_000));
  return `${weekYear}-W${String(week).padStart(2, '0')}`;
}

export interface FaultyProxy {
  /** The port clients connect to; traffic goes on to the real Redis. */
  readonly port: number;
  /** While true, Redis's replies are thrown away: commands run, but the client never hears back. */
  dropReplies: boolean;
  /** Cuts every proxied connection. */
  cut(): void;
  close(): Promise<void>;
}

/** A TCP proxy in front of a real Redis that can lose replies, to test "the command ran but the reply was lost". */
export function faultyProxy(targetPort: number): Promise<FaultyProxy> {
  const sockets = new Set<Socket>();
  return new Promise((resolve) => {
    const proxy: FaultyProxy = {
      port: 0,
      dropReplies: false,
      cut() {
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      },
      close: () =>
        new Promise<void>((done) => {
          proxy.cut();
          server.close(() => done());
        }),
    };
    const server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(client);
      sockets.add(upstream);
      client.on('data', (data) => upstream.write(data));
      upstream.on('data', (data) => {
        if (!proxy.dropReplies) client.write(data);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', end);
    });
    server.listen(0, '127.0.0.1', () => {
      (proxy as { port: number }).port = (server.address() as AddressInfo).port;
      resolve(proxy);
    });
  });
}

/** The config in a served script, which ends with `({"u":"/_pv","t":"…"});`. */
export function configOf(script: string): { u: string; t: string } {
  const match = /\((\{"u":.*\})\);\s*$/.exec(script);
  if (!match?.[1]) throw new Error(`no config in script:\n${script}`);
  return JSON.parse(match[1]);
}

/** The script URL in a page rendered with `views.scriptTag(req)`. */
export function scriptSrc(html: string): string {
  const src = /<script src="([^"]+)" defer><\/script>/.exec(html)?.[1];
  if (src === undefined) throw new Error(`no script tag in ${html}`);
  return src.replace(/&amp;/g, '&');
}
