// Server-sent events of live summaries: one Redis subscriber per middleware, shared by every browser.
import type { Request, Response } from 'express';
import { duplicateClient, type RedisClient, type RedisErrorReporter } from '../redis/index.js';

/** Options of `views.live()`. */
export interface LiveOptions {
  /**
   * How often a comment line is sent when nothing else is, so proxies keep the stream open and browsers
   * notice a dead connection.
   * @default '15s'
   */
  heartbeat?: number | string;
}

/** A stream client is cut off when this much output is waiting for it: it is not reading. */
const MAX_PENDING_BYTES = 1 << 20;

interface Group {
  readonly clients: Set<Response>;
  stop(): void;
}

/**
 * Forwards every summary published on the live channel to the open event streams. The subscriber
 * connection (a duplicate of the client: a subscribed connection can run nothing else) opens with the
 * first stream and closes with the last.
 */
export class LiveHub {
  readonly #client: RedisClient;
  readonly #channel: string;
  readonly #report: RedisErrorReporter;
  readonly #snapshot: () => Promise<string>;
  #subscriber: RedisClient | undefined;
  #ready: Promise<void> = Promise.resolve();
  readonly #groups = new Set<Group>();
  #open = 0;
  #closed = false;

  constructor(
    client: RedisClient,
    channel: string,
    report: RedisErrorReporter,
    snapshot: () => Promise<string>,
  ) {
    this.#client = client;
    this.#channel = channel;
    this.#report = report;
    this.#snapshot = snapshot;
  }

  /** An Express handler streaming `snapshot` (on connect) and `summary` (each flush) events. */
  handler(heartbeatMs: number): (req: Request, res: Response) => void {
    const clients = new Set<Response>();
    let timer: NodeJS.Timeout | undefined;
    const beat = (): void => {
      for (const res of clients) write(res, ': heartbeat\n\n');
    };
    const group: Group = {
      clients,
      stop() {
        if (timer !== undefined) clearInterval(timer);
        timer = undefined;
        for (const res of clients) res.end();
        clients.clear();
      },
    };
    this.#groups.add(group);
    const hub = this;
    return function pageViewsLive(_req: Request, res: Response): void {
      if (hub.#closed) {
        res.statusCode = 503;
        res.end();
        return;
      }
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.setHeader('Cache-Control', 'no-cache, no-transform');
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
      write(res, 'retry: 5000\n\n');
      clients.add(res);
      if (timer === undefined) {
        timer = setInterval(beat, heartbeatMs);
        timer.unref();
      }
      const ready = hub.#acquire();
      res.on('close', () => {
        if (!clients.delete(res)) return;
        hub.#release();
        if (clients.size === 0 && timer !== undefined) {
          clearInterval(timer);
          timer = undefined;
        }
      });
      // Subscribed first, then the snapshot: a browser that has the snapshot misses no later summary.
      ready
        .then(() => hub.#snapshot())
        .then(
          (json) => write(res, `event: snapshot\ndata: ${json}\n\n`),
          (error: unknown) => hub.#report(error, 'pageViews live snapshot'),
        );
    };
  }

  /** Number of open event streams. */
  get clients(): number {
    return this.#open;
  }

  /** Ends every stream and closes the subscriber. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const group of this.#groups) group.stop();
    this.#open = 0;
    await this.#stopSubscriber();
  }

  #acquire(): Promise<void> {
    this.#open += 1;
    if (this.#subscriber === undefined) {
      const subscriber = duplicateClient(this.#client);
      subscriber.on('error', (error: unknown) => this.#report(error, 'pageViews live subscriber'));
      subscriber.on('message', (_channel: string, message: string) => this.#broadcast(message));
      this.#subscriber = subscriber;
      this.#ready = subscriber.subscribe(this.#channel).then(
        () => undefined,
        (error: unknown) => this.#report(error, 'pageViews live subscribe'),
      );
    }
    return this.#ready;
  }

  #release(): void {
    this.#open = Math.max(0, this.#open - 1);
    if (this.#open === 0) void this.#stopSubscriber();
  }

  async #stopSubscriber(): Promise<void> {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber === undefined) return;
    await subscriber.quit().then(
      () => undefined,
      () => subscriber.disconnect(),
    );
  }

  #broadcast(message: string): void {
    const frame = `event: summary\ndata: ${message}\n\n`;
    for (const group of this.#groups) for (const res of group.clients) write(res, frame);
  }
}

function write(res: Response, text: string): void {
  if (res.writableEnded || res.destroyed) return;
  if (res.writableLength > MAX_PENDING_BYTES) {
    res.destroy();
    return;
  }
  res.write(text);
  // compression() buffers until flushed; an event must leave at once.
  (res as Response & { flush?: () => void }).flush?.();
}
