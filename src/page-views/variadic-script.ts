// Registers Lua scripts whose number of keys varies per call: a flush touches one key per route and period.
import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { ConfigError } from '../core/index.js';
import type { RedisClient, ScriptArg } from '../redis/index.js';

/**
 * A script called with any number of keys (all passed through KEYS[], all under one hash tag). The shared
 * `defineScript` fixes the key count at definition, which a batch write cannot know in advance.
 */
export interface VariadicScript<TResult> {
  readonly name: string;
  readonly lua: string;
  /** Phantom field carrying the result type; never set. */
  readonly __result?: TResult;
}

/** Runs a registered variadic script directly, or queues it on a pipeline or multi. */
export interface VariadicRunner<TResult> {
  (keys: readonly string[], args: readonly ScriptArg[]): Promise<TResult>;
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly ScriptArg[]): void;
}

/** Declares a variadic script; call at module level so its text and SHA are built once. */
export function defineVariadicScript<TResult>(script: {
  name: string;
  lua: string;
}): VariadicScript<TResult> {
  return Object.freeze({ ...script });
}

type ScriptedClient = Record<string, unknown> & { scriptsSet?: Record<string, { sha?: string }> };

/**
 * Defines `script` on `client` with `defineCommand` (the key count then travels with each call, and ioredis
 * still routes by the first key on a Cluster and falls back from EVALSHA to EVAL) unless this exact script
 * is already defined there. Throws `ERR_SCRIPT_CONFLICT` when the name is taken by something else.
 */
export function registerVariadicScript<TResult>(
  client: RedisClient,
  script: VariadicScript<TResult>,
): VariadicRunner<TResult> {
  const sha = createHash('sha1').update(script.lua).digest('hex');
  const target = client as unknown as ScriptedClient;
  const existing = target.scriptsSet?.[script.name];
  if (existing === undefined) {
    if (script.name in client) {
      throw new ConfigError(
        'ERR_SCRIPT_CONFLICT',
        `Cannot define script '${script.name}': the Redis client already has a property with that name.`,
      );
    }
    client.defineCommand(script.name, { lua: script.lua });
  } else if (existing.sha !== sha) {
    throw new ConfigError(
      'ERR_SCRIPT_CONFLICT',
      `Script '${script.name}' is already defined on this client with a different body.`,
    );
  }
  const name = script.name;
  const command = target[name] as (...args: unknown[]) => Promise<TResult>;
  // ioredis flattens one level of array arguments, so large key and argument lists are never spread.
  const run = ((keys, args) => command.call(client, keys.length, keys, args)) as VariadicRunner<TResult>;
  run.queue = (pipeline, keys, args) => {
    (pipeline as unknown as Record<string, (...a: unknown[]) => unknown>)[name]?.(keys.length, keys, args);
  };
  return run;
}
