// The Lua script registry: each named script is defined once per client with `defineCommand`, then called by name.
import { createHash } from 'node:crypto';
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

/** Calls a registered script: one EVALSHA (EVAL the first time on each connection) per call. */
export type ScriptRunner<TResult> = (
  keys: readonly string[],
  args?: readonly ScriptArg[],
) => Promise<TResult>;

/** Declares a script. Call it at module level so the definition, and its SHA, are built once. */
export function defineScript<TResult>(script: {
  name: string;
  keys: number;
  lua: string;
  readOnly?: boolean;
}): LuaScript<TResult> {
  if (!/^[a-z][A-Za-z0-9]*$/.test(script.name)) {
    throw new ConfigError(
      'ERR_SCRIPT_NAME',
      `Script name '${script.name}' must be camelCase letters and digits.`,
    );
  }
  return Object.freeze({ ...script });
}

/** Per client, the SHA-1 of each script we defined on it, to stay idempotent and to catch name clashes. */
const registered = new WeakMap<RedisClient, Map<string, string>>();

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
  let scripts = registered.get(client);
  if (!scripts) {
    scripts = new Map();
    registered.set(client, scripts);
  }
  const sha = createHash('sha1').update(script.lua).digest('hex');
  const existing = scripts.get(script.name);
  if (existing === undefined) {
    if (script.name in client) {
      throw new ConfigError(
        'ERR_SCRIPT_CONFLICT',
        `Cannot define script '${script.name}': the Redis client already has a property with that name.`,
      );
    }
    client.defineCommand(script.name, {
      numberOfKeys: script.keys,
      lua: script.lua,
      ...(script.readOnly ? { readOnly: true } : {}),
    });
    scripts.set(script.name, sha);
  } else if (existing !== sha) {
    throw new ConfigError(
      'ERR_SCRIPT_CONFLICT',
      `Script '${script.name}' is already defined on this client with a different body.`,
    );
  }
  const command = (client as unknown as Record<string, (...args: unknown[]) => Promise<TResult>>)[
    script.name
  ];
  if (typeof command !== 'function') {
    throw new ConfigError('ERR_SCRIPT_CONFLICT', `Script '${script.name}' did not register on this client.`);
  }
  const expectedKeys = script.keys;
  const name = script.name;
  return (keys, args = []) => {
    if (keys.length !== expectedKeys) {
      return Promise.reject(new TypeError(`${name} takes ${expectedKeys} keys, got ${keys.length}`));
    }
    return command.call(client, keys, args);
  };
}
