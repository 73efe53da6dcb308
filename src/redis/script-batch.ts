// Calls of one script made in the same turn of the event loop go to Redis as one script call.
import { isCluster, type RedisClient } from './client.js';
import type { RedisCaller } from './deadline.js';
import { registerVariadicScript, type VariadicScript } from './scripts.js';

/** Most calls one script call carries: bounds how long Redis runs it and how many arguments it takes. */
const MAX_BATCH = 256;

/** One call waiting for its batch to be sent. */
interface BatchedCall {
  readonly key: string;
  readonly arg: string;
  readonly done: (reply: string) => void;
  readonly failed: (error: unknown) => void;
}

/**
 * Batches the calls of a script written for it: KEYS holds one key per call (a key may repeat), ARGV the
 * arguments every call shares (`shared`), then one argument per call; the reply is an array with one string
 * per call, in order. The script runs the calls one after the other, as separate calls sent in one pipeline
 * would run, but atomically and for one script call's worth of work in the app and in Redis: on a busy server
 * many requests arrive between two turns of the event loop, and each one would otherwise cost its own command
 * (encoding, a promise, a reply to decode).
 *
 * Calls wait for the end of the current turn (`setImmediate`, as ioredis' auto-pipelining does), then go out
 * together, within one deadline of `caller`. On Redis Cluster every call of a batch must hash to one slot, so
 * calls are batched per key there.
 */
export class ScriptBatcher {
  readonly #run: (keys: readonly string[], args: readonly string[]) => Promise<string[]>;
  readonly #caller: RedisCaller;
  readonly #shared: readonly string[];
  readonly #perKey: boolean;
  #waiting = new Map<string, BatchedCall[]>();
  #scheduled = false;

  constructor(
    client: RedisClient,
    script: VariadicScript<string[]>,
    shared: readonly string[],
    caller: RedisCaller,
  ) {
    const runner = registerVariadicScript(client, script);
    // Batches are sent from setImmediate, when ioredis' auto-pipelining would hold a command for one more turn
    // of the event loop: a pipeline of one writes it now.
    this.#run = autoPipelines(client)
      ? (keys, args) => {
          const pipeline = client.pipeline();
          runner.queue(pipeline, keys, args);
          return pipeline.exec().then(firstResult);
        }
      : runner;
    this.#caller = caller;
    this.#shared = shared;
    this.#perKey = isCluster(client);
  }

  /** Queues one call; `done` gets its reply, or `failed` the error that failed its batch. */
  call(key: string, arg: string, done: (reply: string) => void, failed: (error: unknown) => void): void {
    const group = this.#perKey ? key : '';
    const calls = this.#waiting.get(group);
    const call: BatchedCall = { key, arg, done, failed };
    if (calls === undefined) this.#waiting.set(group, [call]);
    else calls.push(call);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#send);
    }
  }

  /** Sends one call now, outside any batch, with `shared` in place of the batcher's (tests set the time). */
  callNow(key: string, arg: string, shared: readonly string[]): Promise<string> {
    return this.#caller
      .call(() => this.#run([key], [...shared, arg]))
      .then((replies) => replies[0] as string);
  }

  readonly #send = (): void => {
    this.#scheduled = false;
    const waiting = this.#waiting;
    this.#waiting = new Map();
    for (const calls of waiting.values()) {
      for (let start = 0; start < calls.length; start += MAX_BATCH) {
        this.#sendBatch(
          start === 0 && calls.length <= MAX_BATCH ? calls : calls.slice(start, start + MAX_BATCH),
        );
      }
    }
  };

  #sendBatch(calls: readonly BatchedCall[]): void {
    const keys: string[] = new Array(calls.length);
    const args = this.#shared.slice();
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i] as BatchedCall;
      keys[i] = call.key;
      args.push(call.arg);
    }
    this.#caller
      .call(() => this.#run(keys, args))
      .then(
        (replies) => {
          for (let i = 0; i < calls.length; i++) settle(calls[i] as BatchedCall, replies[i]);
        },
        (error: unknown) => {
          for (const call of calls) settle(call, undefined, error);
        },
      );
  }
}

function autoPipelines(client: RedisClient): boolean {
  return (client.options as { enableAutoPipelining?: boolean }).enableAutoPipelining === true;
}

/** The reply of a pipeline's only command, or its error. */
function firstResult(results: [Error | null, unknown][] | null): string[] {
  const [error, reply] = results?.[0] ?? [new Error('The pipeline was discarded.'), undefined];
  if (error) throw error;
  return reply as string[];
}

/**
 * Hands a call its reply or its batch's error. The callbacks are not meant to throw; if one does, it is
 * reported as a process warning and the rest of the batch is still answered, so no request waits forever.
 */
function settle(call: BatchedCall, reply: string | undefined, error?: unknown): void {
  try {
    if (typeof reply === 'string') call.done(reply);
    else call.failed(error ?? new TypeError('A batched script sent fewer replies than it was sent calls.'));
  } catch (thrown) {
    process.emitWarning(`A batched Redis call's callback threw: ${String(thrown)}`, 'ScriptBatchWarning');
  }
}
