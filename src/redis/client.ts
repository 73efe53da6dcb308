// The Redis client type every middleware accepts, and the checks that tell one kind from another.
import { type Cluster, Command, type Redis } from 'ioredis';
import { ConfigError } from '../core/errors.js';

/** An ioredis client: a single `Redis` (standalone or Sentinel) or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** True for an ioredis `Cluster`, which routes each key to its slot's master. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/** Whether the client holds commands for auto-pipelining (`enableAutoPipelining`). */
export function autoPipelines(client: RedisClient): boolean {
  return (client.options as { enableAutoPipelining?: boolean }).enableAutoPipelining === true;
}

/**
 * Checks at app start that `value` looks like an ioredis client, so a missing or wrong `redis` option fails
 * with a clear message instead of a TypeError on the first request.
 */
export function assertRedisClient(value: unknown, where: string): asserts value is RedisClient {
  const candidate = value as { defineCommand?: unknown; sendCommand?: unknown } | null | undefined;
  if (isNodeRedisClient(value)) {
    throw new ConfigError(
      'ERR_REDIS_CLIENT',
      `${where}: the \`redis\` option is a node-redis client (the \`redis\` package), but express-redis-kit ` +
        'needs an ioredis client. Install ioredis (`npm install ioredis`) and pass ' +
        "`new Redis(url)` (`import { Redis } from 'ioredis'`), or `new Cluster(nodes)` for a Redis Cluster.",
    );
  }
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.defineCommand !== 'function' ||
    typeof candidate.sendCommand !== 'function'
  ) {
    throw new ConfigError(
      'ERR_REDIS_CLIENT',
      `${where}: the \`redis\` option must be an ioredis Redis or Cluster instance (got ${describe(value)}).`,
    );
  }
}

/**
 * A new connection with the same options, e.g. for a subscriber (a subscribed connection runs nothing else).
 * Narrowed per kind because ioredis 6 types `duplicate` differently on `Redis` and `Cluster`.
 */
export function duplicateClient(client: RedisClient): RedisClient {
  return isCluster(client) ? client.duplicate() : client.duplicate();
}

/** The command timeout the client itself enforces, if any (ioredis `commandTimeout`). */
export function clientCommandTimeout(client: RedisClient): number | undefined {
  const options = isCluster(client)
    ? (client.options.redisOptions as { commandTimeout?: number } | undefined)
    : client.options;
  const timeout = options?.commandTimeout;
  return typeof timeout === 'number' && timeout > 0 ? timeout : undefined;
}

/**
 * node-redis clients, clusters, sentinels and pools (`createClient()` and friends) name their commands in
 * camelCase (`hGetAll`) and have no `defineCommand`; ioredis names them in lower case.
 */
function isNodeRedisClient(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as { defineCommand?: unknown; hGetAll?: unknown };
  return typeof candidate.hGetAll === 'function' && typeof candidate.defineCommand !== 'function';
}

/**
 * The ioredis `keyPrefix` the client puts before every key it sends ('' for none). Key arguments get it
 * from the client; what it does not touch (SCAN MATCH patterns, the key names SCAN returns) must add or
 * strip it by hand.
 */
export function clientKeyPrefix(client: RedisClient): string {
  const prefix = (client.options as { keyPrefix?: unknown }).keyPrefix;
  return typeof prefix === 'string' ? prefix : '';
}

/**
 * Sends one command at once, as the client's own method would (its `keyPrefix` on the keys; replies as strings,
 * or as Buffers with `buffers`), but never held for auto-pipelining: the callers batch their calls already, so
 * holding them would only add a turn of the event loop and a pipeline object.
 */
export function sendNow<TReply>(
  client: RedisClient,
  name: string,
  args: readonly unknown[],
  options: { readonly buffers?: boolean; readonly readOnly?: boolean } = {},
): Promise<TReply> {
  // Command flattens one level of arrays: long key and argument lists are never spread.
  const command = new Command(name, args as (string | number | Buffer)[], {
    keyPrefix: clientKeyPrefix(client) || undefined,
    replyEncoding: options.buffers ? null : 'utf8',
    ...(options.readOnly ? { readOnly: true } : {}),
  });
  client.sendCommand(command);
  return command.promise as Promise<TReply>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'an object';
}
