// The Lua scripts: each is declared once with a name, then run on any client by its SHA.
import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import { ConfigError } from '../core/errors.js';
import { type RedisClient, sendNow } from './client.js';

/** An argument a script accepts in `ARGV`. */
export type ScriptArg = string | number | Buffer;

/**
 * A Lua script with its command name and key count. `TResult` is the reply type the script produces;
 * it only types the runner, Redis does not check it.
 */
export interface LuaScript<TResult> {
  /** Its name, e.g. `rlSlidingLog`: says which script an error is about. */
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
  /** Its name, e.g. `pvFlush`. */
  readonly name: string;
  /** The script body. */
  readonly lua: string;
  /** Phantom field carrying the result type; never set. */
  readonly __result?: TResult;
}

/** Calls a registered script: one EVALSHA per call (EVAL when Redis does not have the script yet). */
export type ScriptRunner<TResult> = (
  keys: readonly string[],
  args?: readonly ScriptArg[],
) => Promise<TResult>;

/** Runs a registered variadic script directly, or queues it on a pipeline or multi. */
export interface VariadicRunner<TResult> {
  (keys: readonly string[], args: readonly ScriptArg[]): Promise<TResult>;
  /**
   * Queues a call on `pipeline`: as EVAL the first time on that pipeline, which caches the script in Redis
   * for the EVALSHA calls queued after it (they run after it, on the same connection).
   */
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
 * A typed runner of `script` on `client`. Nothing is defined on the client, so any number of middlewares (and
 * copies of this package) can share one client, and the client's own commands are left as they were.
 */
export function registerScript<TResult>(
  client: RedisClient,
  script: LuaScript<TResult>,
): ScriptRunner<TResult> {
  const run = scriptCaller<TResult>(client, script.lua, sha1(script.lua), script.readOnly === true);
  const expectedKeys = script.keys;
  const name = script.name;
  return (keys, args = []) => {
    if (keys.length !== expectedKeys) {
      return Promise.reject(new TypeError(`${name} takes ${expectedKeys} keys, got ${keys.length}`));
    }
    return run(keys, args);
  };
}

/** Like {@link registerScript}, for a script whose key count travels with each call. */
export function registerVariadicScript<TResult>(
  client: RedisClient,
  script: VariadicScript<TResult>,
): VariadicRunner<TResult> {
  const sha = sha1(script.lua);
  const run = scriptCaller<TResult>(client, script.lua, sha, false) as VariadicRunner<TResult>;
  const loadedIn = new WeakSet<ChainableCommander>();
  run.queue = (pipeline, keys, args) => {
    const queued = pipeline as unknown as Record<'eval' | 'evalsha', (...values: unknown[]) => unknown>;
    if (loadedIn.has(pipeline)) queued.evalsha(sha, keys.length, keys, args);
    else {
      loadedIn.add(pipeline);
      queued.eval(script.lua, keys.length, keys, args);
    }
  };
  return run;
}

function checkName(name: string): void {
  if (!/^[a-z][A-Za-z0-9]*$/.test(name)) {
    throw new ConfigError('ERR_SCRIPT_NAME', `Script name '${name}' must be camelCase letters and digits.`);
  }
}

/**
 * Sends `lua` as EVAL the first time, then as EVALSHA, and again as EVAL when Redis answers NOSCRIPT (another
 * node of a Cluster, a restart, a failover to a replica, SCRIPT FLUSH), which caches it there again.
 *
 * Why not ioredis' `defineCommand`, which does the same: every ioredis pipeline, including the one
 * auto-pipelining makes on each turn of the event loop, copies every defined command onto itself when it is
 * made. With the scripts of all four middlewares on one client that measured 14 µs a pipeline instead of 4
 * (in a process of its own, Node 20), paid by the app's own commands too.
 */
function scriptCaller<TResult>(
  client: RedisClient,
  lua: string,
  sha: string,
  readOnly: boolean,
): (keys: readonly string[], args: readonly ScriptArg[]) => Promise<TResult> {
  const options = { readOnly };
  const send = (
    name: 'evalsha' | 'eval',
    body: string,
    keys: readonly string[],
    args: readonly ScriptArg[],
  ) => sendNow<TResult>(client, name, [body, keys.length, keys, args], options);
  // The first call sends the body: Redis caches it, and every later call (sent after it on the connection)
  // finds it by its SHA.
  let bodySent = false;
  return (keys, args) => {
    if (!bodySent) {
      bodySent = true;
      return send('eval', lua, keys, args);
    }
    return send('evalsha', sha, keys, args).catch((error: unknown) =>
      isNoScript(error) ? send('eval', lua, keys, args) : Promise.reject(error),
    );
  };
}

function sha1(lua: string): string {
  return createHash('sha1').update(lua).digest('hex');
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
