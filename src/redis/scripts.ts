// The Lua script registry: each named script is defined once per client with `defineCommand`, then called by name.
import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { ConfigError } from '../core/errors.js';
import type { RedisClient } from './client.js';

/** An argument a script accepts in `ARGV`. */
export type ScriptArg = string | number | Buffer;

/**
 * A Lua script with its command name and key count. `TResult` is the reply type the script produces;
 * it only types the runner, Redis does not check it.
 */
export interface LuaScript<TResult> {
  /** The command name defined on the client, e.g. `rlSlidingLog`. */
  readonly name: string;
  /** How many leading arguments are keys (`KEYS[]`); every key a script touches must be among them. */
  readonly keys: number;
  /** The script body. */
  readonly lua: string;
  /** Marks a script that never writes, so a Cluster client may send it to a replica. */
  readonly readOnly?: boolean;
  /** Phantom field carrying the result type; never set. */
  readonly __result?: TResult;
}

/**
 * A script called with any number of keys (all passed through `KEYS[]`, all under one hash tag): a batch write
 * cannot know its key count when the script is defined.
 */
export interface VariadicScript<TResult> {
  /** The command name defined on the client, e.g. `pvFlush`. */
  readonly name: string;
  /** The script body. */
  readonly lua: string;
  /** Phantom field carrying the result type; never set. */
  readonly __result?: TResult;
}

/** Calls a registered script: one EVALSHA (EVAL the first time on each connection) per call. */
export type ScriptRunner<TResult> = (
  keys: readonly string[],
  args?: readonly ScriptArg[],
) => Promise<TResult>;

/** Runs a registered variadic script directly, or queues it on a pipeline or multi. */
export interface VariadicRunner<TResult> {
  (keys: readonly string[], args: readonly ScriptArg[]): Promise<TResult>;
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly ScriptArg[]): void;
}

/** Declares a script. Call it at module level so the definition, and its SHA, are built once. */
export function defineScript<TResult>(script: {
  name: string;
  keys: number;
  lua: string;
  readOnly?: boolean;
}): LuaScript<TResult> {
  checkName(script.name);
  return Object.freeze({ ...script });
}

/** Declares a variadic script. Call it at module level so the definition, and its SHA, are built once. */
export function defineVariadicScript<TResult>(script: {
  name: string;
  lua: string;
}): VariadicScript<TResult> {
  checkName(script.name);
  return Object.freeze({ ...script });
}

/**
 * Defines `script` on `client` unless it is already there, and returns a typed runner for it. Safe to call
 * any number of times per client (for example once per middleware created on a shared client).
 *
 * @throws ConfigError `ERR_SCRIPT_CONFLICT` when another script, or an ioredis method, already has that name.
 */
export function registerScript<TResult>(
  client: RedisClient,
  script: LuaScript<TResult>,
): ScriptRunner<TResult> {
  const command = defineOnce<TResult>(client, script.name, script.lua, {
    numberOfKeys: script.keys,
    ...(script.readOnly ? { readOnly: true } : {}),
  });
  const expectedKeys = script.keys;
  const name = script.name;
  return (keys, args = []) => {
    if (keys.length !== expectedKeys) {
      return Promise.reject(new TypeError(`${name} takes ${expectedKeys} keys, got ${keys.length}`));
    }
    return command.call(client, keys, args);
  };
}

/**
 * Like {@link registerScript}, for a script whose key count travels with each call. ioredis still routes by
 * the first key on a Cluster and falls back from EVALSHA to EVAL.
 *
 * @throws ConfigError `ERR_SCRIPT_CONFLICT` when another script, or an ioredis method, already has that name.
 */
export function registerVariadicScript<TResult>(
  client: RedisClient,
  script: VariadicScript<TResult>,
): VariadicRunner<TResult> {
  const command = defineOnce<TResult>(client, script.name, script.lua, {});
  const name = script.name;
  // ioredis flattens one level of array arguments, so large key and argument lists are never spread.
  const run = ((keys, args) => command.call(client, keys.length, keys, args)) as VariadicRunner<TResult>;
  run.queue = (pipeline, keys, args) => {
    (pipeline as unknown as Record<string, (...a: unknown[]) => unknown>)[name]?.(keys.length, keys, args);
  };
  return run;
}

function checkName(name: string): void {
  if (!/^[a-z][A-Za-z0-9]*$/.test(name)) {
    throw new ConfigError('ERR_SCRIPT_NAME', `Script name '${name}' must be camelCase letters and digits.`);
  }
}

/**
 * Per client, the SHA-1 of each script we defined on it (fixed and variadic alike), to stay idempotent and to
 * catch name clashes without reading ioredis's private fields.
 */
const registered = new WeakMap<RedisClient, Map<string, string>>();

type ScriptCommand<TResult> = (...args: unknown[]) => Promise<TResult>;

/** Defines the command `name` on `client` once, and returns it. */
function defineOnce<TResult>(
  client: RedisClient,
  name: string,
  lua: string,
  options: { numberOfKeys?: number; readOnly?: boolean },
): ScriptCommand<TResult> {
  let scripts = registered.get(client);
  if (!scripts) {
    scripts = new Map();
    registered.set(client, scripts);
  }
  const sha = createHash('sha1').update(lua).digest('hex');
  const existing = scripts.get(name);
  if (existing === undefined) {
    if (name in client) {
      throw new ConfigError(
        'ERR_SCRIPT_CONFLICT',
        `Cannot define script '${name}': the Redis client already has a property with that name.`,
      );
    }
    client.defineCommand(name, { lua, ...options });
    scripts.set(name, sha);
  } else if (existing !== sha) {
    throw new ConfigError(
      'ERR_SCRIPT_CONFLICT',
      `Script '${name}' is already defined on this client with a different body.`,
    );
  }
  const command = (client as unknown as Record<string, ScriptCommand<TResult>>)[name];
  if (typeof command !== 'function') {
    throw new ConfigError('ERR_SCRIPT_CONFLICT', `Script '${name}' did not register on this client.`);
  }
  return command;
}
