// Bounds how long a request may wait for Redis, so a paused or unreachable server never hangs a request.
import { ReplyError } from 'ioredis';
import { parseDuration } from '../core/duration.js';
import { autoPipelines, clientCommandTimeout, isCluster, type RedisClient } from './client.js';
import { RedisTimeoutError, RedisUnavailableError } from './errors.js';

/** Default deadline for one Redis call made on a request's behalf, when the client sets no `commandTimeout`. */
export const DEFAULT_REDIS_TIMEOUT_MS = 1_000;

/**
 * Resolves a middleware's `timeout` option: an explicit value wins; otherwise the client's own
 * `commandTimeout` applies (and we add no timer of our own: 0); otherwise {@link DEFAULT_REDIS_TIMEOUT_MS}.
 * A client with `enableAutoPipelining` always gets our own timer: its command timers start only when a
 * command's batch is sent, and a batch waits for the one before it, so against a frozen server a command would
 * otherwise wait up to twice the client's timeout. So does a `Cluster`: while it is not ready (every node
 * down, slots being refreshed) it holds commands in its own offline queue, where no `commandTimeout` runs.
 */
export function resolveTimeout(client: RedisClient, option: unknown, where: string): number {
  const own = clientCommandTimeout(client);
  const lateTimers = autoPipelines(client) || isCluster(client);
  if (option !== undefined) {
    const ms = parseDuration(option, `${where} timeout`);
    return own !== undefined && own <= ms && !lateTimers ? 0 : ms;
  }
  if (own === undefined) return DEFAULT_REDIS_TIMEOUT_MS;
  return lateTimers ? own : 0;
}

/**
 * Settles with `promise`, or rejects with a `RedisTimeoutError` after `timeoutMs` (0 = no timer: the client
 * enforces its own timeout). A late rejection of `promise` is absorbed, so it never becomes unhandled.
 */
export function withDeadline<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  if (timeoutMs <= 0) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RedisTimeoutError(timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** After a failed probe, calls fail at once this long before the next one may probe Redis. */
const PROBE_INTERVAL_MS = 100;

/**
 * What the middlewares on one client know of its Redis. Calls are numbered in the order they are sent, so a
 * failure can be weighed against the answers: a call that times out or loses its connection says Redis is
 * down only if Redis has answered no call made after it. Otherwise it is old news (a command that waited on
 * a connection that is gone, or on a Cluster master that another has replaced) and fails alone.
 */
interface ClientHealth {
  /** How many calls have been sent on the client. */
  sent: number;
  /** The number of the latest call that Redis answered, with a result or an error reply. */
  answered: number;
  /** Calls fail at once, except one probe at a time. */
  failing: boolean;
  /** A call is out probing Redis. */
  probing: boolean;
  /** No call probes before this time (ms). */
  probeAfter: number;
}

/**
 * Each client's health, keyed by the client (a weak map: a closed client is forgotten) and shared by every
 * middleware on it, so a request that passes a session, a rate limit and a cache waits for one timeout during
 * an outage, not one per middleware.
 */
const healthOfClient = new WeakMap<RedisClient, ClientHealth>();

function healthOf(client: RedisClient): ClientHealth {
  let health = healthOfClient.get(client);
  if (health === undefined) {
    health = { sent: 0, answered: 0, failing: false, probing: false, probeAfter: 0 };
    healthOfClient.set(client, health);
  }
  return health;
}

function noteAnswer(health: ClientHealth, call: number): void {
  if (call > health.answered) health.answered = call;
  // Even an answer that came too late shows Redis is back.
  health.failing = false;
  health.probing = false;
}

function noteFailure(health: ClientHealth, call: number): void {
  if (call < health.answered) return;
  health.failing = true;
  health.probing = false;
  health.probeAfter = Date.now() + PROBE_INTERVAL_MS;
}

/** A Redis call in flight: how it ends if its deadline passes first. */
interface Pending {
  /** The call's number in the client's order of calls. */
  call: number;
  deadline: number;
  settled: boolean;
  reject: (error: unknown) => void;
}

/**
 * The deadlines of one caller. Every call gets the same timeout, so deadlines expire in the order the calls
 * were made: one timer for the oldest call serves them all, instead of a timer set and cleared per call.
 */
class DeadlineQueue {
  readonly #timeoutMs: number;
  readonly #onExpire: (pending: Pending) => void;
  #entries: Pending[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, onExpire: (pending: Pending) => void) {
    this.#timeoutMs = timeoutMs;
    this.#onExpire = onExpire;
  }

  add(pending: Pending): void {
    pending.deadline = Date.now() + this.#timeoutMs;
    this.#entries.push(pending);
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(this.#expire, ms);
    this.#timer.unref();
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = Date.now();
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const pending = entries[this.#head] as Pending;
      if (!pending.settled) {
        if (pending.deadline > now) break;
        pending.settled = true;
        this.#onExpire(pending);
      }
      this.#head++;
    }
    if (this.#head === entries.length) {
      this.#entries = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    this.#arm(Math.max(1, (this.#entries[this.#head] as Pending).deadline - now));
  };
}

/** Makes the Redis calls of one middleware: each bounded by `timeoutMs`, and aware of the client's outages. */
export interface RedisCaller {
  call<T>(run: () => Promise<T>): Promise<T>;
}

/**
 * A caller for a middleware's calls on `client`, each within `timeoutMs` (0: the client's own
 * `commandTimeout` bounds them). It shares what it learns with every middleware on the client: after a
 * timeout, or a failure that is not a reply from Redis (a lost connection), of a call made after every call
 * Redis has answered, calls reject at once with `RedisUnavailableError` without being sent, except one probe
 * at a time (at most one per 100 ms) that tries Redis; the first answer from Redis (a result or an error
 * reply) ends that.
 */
export function redisCaller(client: RedisClient, timeoutMs: number): RedisCaller {
  const health = healthOf(client);
  const expire = (pending: Pending, ms: number) => {
    noteFailure(health, pending.call);
    pending.reject(new RedisTimeoutError(ms));
  };
  const deadlines = timeoutMs > 0 ? new DeadlineQueue(timeoutMs, (p) => expire(p, timeoutMs)) : undefined;
  // A probe decides for every middleware on the client whether Redis is back: it always gets a deadline of
  // ours, or a probe the client never settles would keep every call failing for good.
  const probeMs = timeoutMs > 0 ? timeoutMs : (clientCommandTimeout(client) ?? DEFAULT_REDIS_TIMEOUT_MS);
  const probeDeadlines = deadlines ?? new DeadlineQueue(probeMs, (p) => expire(p, probeMs));
  return {
    call<T>(run: () => Promise<T>): Promise<T> {
      const probe = health.failing;
      if (probe) {
        if (health.probing || Date.now() < health.probeAfter)
          return Promise.reject(new RedisUnavailableError());
        health.probing = true;
      }
      return new Promise<T>((resolve, reject) => {
        const pending: Pending = { call: ++health.sent, deadline: 0, settled: false, reject };
        if (probe) probeDeadlines.add(pending);
        else deadlines?.add(pending);
        run().then(
          (value) => {
            noteAnswer(health, pending.call);
            if (pending.settled) return;
            pending.settled = true;
            resolve(value);
          },
          (error: unknown) => {
            if (pending.settled) return;
            pending.settled = true;
            if (error instanceof ReplyError) noteAnswer(health, pending.call);
            else noteFailure(health, pending.call);
            reject(error);
          },
        );
      });
    },
  };
}
