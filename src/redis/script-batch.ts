// Calls of one script made in the same turn of the event loop go to Redis as one script call.
import { isCluster, type RedisClient, sendNow } from './client.js';
import type { RedisCaller } from './deadline.js';
import { registerVariadicScript, type ScriptArg, type VariadicScript } from './scripts.js';

/**
 * Most calls one script call carries. A batch leaves as soon as it holds this many, while the app is still
 * handling the rest of the turn, so that Redis works on it meanwhile: a busy app handles a whole wave of
 * requests in one turn, and with one batch per turn it sat idle while Redis ran the wave's batch (11 % of the
 * time in the trivial full stack; 2 % with batches of this size). Larger batches save a little of the app's
 * and Redis' work per call, smaller ones overlap more; 8 and 32 measured no better than 16.
 */
export const BATCH_SIZE = 16;

/**
 * What a script written for batches returns: its calls' replies as one JSON array, made by ending the script
 * with {@link RETURN_BATCH_REPLIES}. Why JSON: Redis sends it as one string, which the app decodes with
 * `JSON.parse` at native speed, where a nested reply is decoded element by element in JavaScript (about 4 µs
 * of a returning visitor's session read with ioredis 6, a session being an array of fields within an array of
 * replies; its read measured 6 % more requests a second this way).
 */
export type BatchReplies<TReply> = string & { readonly __replies?: TReply[] };

/**
 * The last line of a script written for batches, its table `replies` holding one reply per call (a call
 * without one replies `cjson.null`, as a nil would end the array there). Redis' cjson writes numbers with 14
 * significant digits: a reply carries a longer one (a time in µs) as a string.
 */
export const RETURN_BATCH_REPLIES = 'return cjson.encode(replies)';

/**
 * What a batcher sends: a variadic script written for batches, or {@link MGET_BUFFERS}, the plain read of
 * each call's key.
 */
export type BatchTarget<TReply> =
  | VariadicScript<BatchReplies<TReply>>
  | { readonly mget: 'buffers'; readonly __reply?: TReply };

/** Reads each call's key as a Buffer (null when there is none), the calls of one turn in one MGET. */
export const MGET_BUFFERS: BatchTarget<Buffer | null> = Object.freeze({ mget: 'buffers' });

/** A call's own arguments: none, one, or several (for a script that reads a variable number per call). */
export type BatchArg = string | readonly string[] | undefined;

/** One call waiting for its batch to be sent. */
interface BatchedCall<TReply> {
  readonly key: string;
  readonly arg: BatchArg;
  readonly done: (reply: TReply) => void;
  readonly failed: (error: unknown) => void;
}

/**
 * Batches the calls of a script written for it: KEYS holds one key per call (a key may repeat), ARGV the
 * arguments every call shares (`shared`), then each call's own arguments in call order (one each, or as many
 * as the script reads for a call, for a script whose calls take any); the reply holds one reply per call, in
 * order (see {@link BatchReplies}). The script runs the calls one after the other, as separate calls sent in one
 * pipeline would run, but atomically and for one script call's worth of work in the app and in Redis: on a
 * busy server many requests arrive between two turns of the event loop, and each one would otherwise cost its
 * own command (encoding, a promise, a reply to decode). With {@link MGET_BUFFERS} the batch is one MGET of the
 * calls' keys instead (the response cache's lookups).
 *
 * Calls wait for the end of the current turn (`setImmediate`, as ioredis' auto-pipelining does), or until
 * {@link BATCH_SIZE} of them are waiting, then go out together, within one deadline of `caller`. On Redis
 * Cluster every call of a batch must hash to one slot, so calls are batched per key there.
 */
export class ScriptBatcher<TReply> {
  readonly #run: (
    keys: readonly string[],
    args: readonly ScriptArg[],
  ) => Promise<TReply[] | BatchReplies<TReply>>;
  readonly #caller: RedisCaller;
  readonly #shared: readonly ScriptArg[];
  readonly #perKey: boolean;
  #waiting = new Map<string, BatchedCall<TReply>[]>();
  #scheduled = false;

  constructor(
    client: RedisClient,
    target: BatchTarget<TReply>,
    shared: readonly ScriptArg[],
    caller: RedisCaller,
  ) {
    this.#run =
      'mget' in target
        ? (keys) => sendNow<TReply[]>(client, 'mget', keys, { buffers: true })
        : registerVariadicScript(client, target);
    this.#caller = caller;
    this.#shared = shared;
    this.#perKey = isCluster(client);
  }

  /**
   * Queues one call (`arg`: its own arguments, if the script's calls take any); `done` gets its reply, or
   * `failed` the error that failed its batch.
   */
  call(key: string, arg: BatchArg, done: (reply: TReply) => void, failed: (error: unknown) => void): void {
    const group = this.#perKey ? key : '';
    const calls = this.#waiting.get(group);
    const call: BatchedCall<TReply> = { key, arg, done, failed };
    if (calls === undefined) {
      this.#waiting.set(group, [call]);
    } else {
      calls.push(call);
      if (calls.length === BATCH_SIZE) {
        this.#waiting.delete(group);
        this.#sendBatch(calls);
        return;
      }
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#send);
    }
  }

  /** {@link call} as a promise, for callers that are not on a request's hot path or want one anyway. */
  ask(key: string, arg: BatchArg): Promise<TReply> {
    return new Promise((resolve, reject) => this.call(key, arg, resolve, reject));
  }

  /** Sends one call now, outside any batch, with `shared` in place of the batcher's (tests set the time). */
  callNow(key: string, arg: BatchArg, shared: readonly ScriptArg[]): Promise<TReply> {
    const args = shared.slice();
    pushArg(args, arg);
    return this.#caller
      .call(() => this.#run([key], args))
      .then((sent) => {
        const replies = decodeReplies(sent);
        if (replies.length < 1) throw missingReply();
        return replies[0] as TReply;
      });
  }

  readonly #send = (): void => {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = new Map();
    for (const calls of waiting.values()) this.#sendBatch(calls);
  };

  #sendBatch(calls: readonly BatchedCall<TReply>[]): void {
    const keys: string[] = new Array(calls.length);
    const args = this.#shared.slice();
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i] as BatchedCall<TReply>;
      keys[i] = call.key;
      pushArg(args, call.arg);
    }
    this.#caller
      .call(() => this.#run(keys, args))
      .then(
        (sent) => {
          const replies = decodeReplies(sent);
          for (let i = 0; i < calls.length; i++) {
            const call = calls[i] as BatchedCall<TReply>;
            if (i < replies.length) settle(call, true, replies[i] as TReply);
            else settle(call, false, missingReply());
          }
        },
        (error: unknown) => {
          for (const call of calls) settle(call, false, error);
        },
      );
  }
}

/** A batch's replies: as MGET sent them, or decoded from a script's JSON (see {@link BatchReplies}). */
function decodeReplies<TReply>(sent: TReply[] | BatchReplies<TReply>): TReply[] {
  return typeof sent === 'string' ? (JSON.parse(sent) as TReply[]) : sent;
}

function pushArg(args: ScriptArg[], arg: BatchArg): void {
  if (typeof arg === 'string') args.push(arg);
  else if (arg !== undefined) for (const value of arg) args.push(value);
}

function missingReply(): TypeError {
  return new TypeError('A batched script sent fewer replies than it was sent calls.');
}

/**
 * Hands a call its reply or its batch's error. The callbacks are not meant to throw; if one does, it is
 * reported as a process warning and the rest of the batch is still answered, so no request waits forever.
 */
function settle<TReply>(call: BatchedCall<TReply>, ok: boolean, outcome: unknown): void {
  try {
    if (ok) call.done(outcome as TReply);
    else call.failed(outcome);
  } catch (thrown) {
    process.emitWarning(`A batched Redis call's callback threw: ${String(thrown)}`, 'ScriptBatchWarning');
  }
}
