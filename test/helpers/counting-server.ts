// A redis-server of one test file alone, so every command it receives can be counted, from any connection.
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { type RedisServer, startRedisServer } from './redis-server.js';

export interface CountingServer {
  /** A client of the dedicated server (connect more with `connect()`: they are counted too). */
  readonly client: Redis;
  connect(): Redis;
  /**
   * Runs `action` and returns every command the server received meanwhile from any connection (a
   * `redis.duplicate()`, a reconnect), each `[name, ...args]`; commands a script ran are not round trips
   * and are left out. `processed` is the server's own count (`total_commands_processed`), scripts' commands
   * included, so a zero there proves no connection was missed.
   */
  count<T>(action: () => Promise<T>): Promise<{ result: T; commands: string[][]; processed: number }>;
}

/** Call at the top of a test file: starts the server before the file's tests, stops it after. */
export function useCountingServer(): CountingServer {
  let server: RedisServer;
  let admin: Redis;
  let monitor: Redis;
  let adminAddr = '';
  const clients: Redis[] = [];
  let recording: { seen: string[][]; marker: string; done: () => void } | undefined;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = new Redis(server.url);
    adminAddr = /(?:^| )addr=(\S+)/.exec(String(await admin.call('CLIENT', 'INFO')))?.[1] ?? '';
    const base = new Redis(server.url);
    monitor = await base.monitor();
    base.disconnect();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const r = recording;
      if (r === undefined || source === 'lua') return;
      if (source === adminAddr) {
        if (args[0]?.toLowerCase() === 'echo' && args[1] === r.marker) r.done();
        return;
      }
      r.seen.push([String(args[0]).toLowerCase(), ...args.slice(1)]);
    });
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    monitor?.disconnect();
    admin?.disconnect();
    await server?.stop();
  });

  const processed = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))?.[1]);

  const counting: CountingServer = {
    get client() {
      return clients[0] ?? counting.connect();
    },
    connect() {
      const c = new Redis(server.url, { maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    async count(action) {
      const marker = `count-${Math.random().toString(36).slice(2)}`;
      let done: () => void = () => {};
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      const seen: string[][] = [];
      // MONITOR shows a command after it ran: a marker echoed first proves recording has begun.
      const started = `start-${marker}`;
      let begun: () => void = () => {};
      const ready = new Promise<void>((resolve) => {
        begun = resolve;
      });
      recording = { seen: [], marker: started, done: begun };
      await admin.echo(started);
      await ready;
      recording = { seen, marker, done };
      const before = await processed();
      const result = await action();
      // the INFO that read `before` is counted once it has run: 1 is this helper's own
      const after = await processed();
      await admin.echo(marker);
      await finished;
      recording = undefined;
      return { result, commands: seen, processed: after - before - 1 };
    },
  };
  return counting;
}
