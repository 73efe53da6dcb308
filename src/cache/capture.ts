// Captures a response body while it goes out (tee), or instead of sending it (virtual: background refresh).
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  attachCapture,
  CAPTURED_METHOD_NAMES,
  CAPTURED_METHODS,
  type CaptureHooks,
  onClose,
  storeHeaderHook,
} from './capture-hooks.js';
import { applyWriteHeadArguments, callLater, plainFields, toBuffer } from './response-arguments.js';
import type { ResponseMethod } from './response-method.js';
import {
  devirtualise,
  VIRTUAL_METHOD_NAMES,
  VIRTUAL_METHODS,
  type VirtualFields,
  virtualise,
} from './virtual-response.js';

/** Where a capture reports to. Both calls happen synchronously inside the response's own method calls. */
export interface CaptureSink {
  /**
   * The status and fields are final and about to be sent: decide. Set `capture.storing`, and optionally
   * answer with `capture.replaceWith(...)` or `capture.answerNotModified()`. Must not throw.
   */
  onHeaders(capture: ResponseCapture): void;
  /**
   * Called while storing, once every other `writeHead` hook (a session's, express-session's, anything built
   * on `on-headers`) has run: `fields` are the ones that actually leave. Clear `capture.storing` to give up;
   * fields may still be changed while `flushing` is true. Must not throw.
   */
  onFinalHeaders(capture: ResponseCapture, fields: OutgoingHttpHeaders, flushing: boolean): void;
  /**
   * Called once: `complete` with the whole body when `capture.storing`; otherwise the capture gave up
   * (`reason`: 'not-stored', 'too-large', 'aborted' or 'timeout').
   */
  onDone(capture: ResponseCapture, complete: boolean, reason: string): void;
}

/**
 * Node's step that turns the fields into the header block, inside its own `writeHead`: the one moment after
 * every wrapper of `writeHead` ran and before anything is fixed. Not public API, so storing never depends
 * on it: the fields are checked again once `writeHead` returns.
 */
type StoreHeader = (this: ServerResponse, firstLine: string, fields: unknown) => unknown;
interface WithStoreHeader {
  _storeHeader?: StoreHeader;
}

const EMPTY = Buffer.alloc(0);

/**
 * One response being captured, through the functions of capture-hooks.ts installed on it. `write`/`end` after
 * the first `end` go straight to the originals (double-end guard), and the originals are put back when the
 * capture finishes (unless another middleware wrapped ours meanwhile: ours then forwards everything).
 */
export class ResponseCapture implements CaptureHooks {
  /** Fields set before the cache ran, by lower-case name. */
  readonly before: OutgoingHttpHeaders;
  /** Set by the sink at onHeaders: keep the body for storing. */
  storing = false;
  /** The whole body, when it arrived in one `end()` before the fields were sent. */
  pendingBody: Buffer | undefined;

  readonly #res: ServerResponse;
  readonly #sink: CaptureSink;
  readonly #maxBytes: number;
  /** Set when virtual: the client already has its answer; nothing is forwarded, fields live here. */
  readonly #virtual: VirtualFields | undefined;
  #chunks: Buffer[] = [];
  #size = 0;
  #headDone = false;
  /** The sink saw the fields that leave (after every `writeHead` hook). */
  #finalSeen = false;
  /** Node's own `_storeHeader` while ours stands in for it. */
  #storeHeader: StoreHeader | undefined;
  #ended = false;
  /** Forward everything to the originals: nothing left to capture. */
  #passthrough = false;
  /** Forward nothing: the client got another answer (stale entry, 304) or this is virtual. */
  #swallow: boolean;
  #settled = false;
  readonly #originals: Record<string, ResponseMethod | undefined> = {};
  readonly #hadOwn: Record<string, boolean> = {};

  constructor(
    res: ServerResponse,
    sink: CaptureSink,
    virtual: boolean,
    before: OutgoingHttpHeaders,
    maxBytes: number,
  ) {
    this.#res = res;
    this.#sink = sink;
    this.#swallow = virtual;
    this.before = before;
    this.#maxBytes = maxBytes;
    attachCapture(res, this);
    for (const name of CAPTURED_METHOD_NAMES) this.#patch(name, CAPTURED_METHODS[name]);
    if (virtual) {
      this.#virtual = virtualise(res, before);
      for (const name of VIRTUAL_METHOD_NAMES) this.#patch(name, VIRTUAL_METHODS[name]);
    } else {
      res.once('close', onClose);
    }
  }

  /** The status the app chose. */
  get status(): number {
    return this.#res.statusCode;
  }

  /** The fields the app set (lower-case names), as they are now. */
  headers(): OutgoingHttpHeaders {
    return this.#virtual === undefined ? this.#res.getHeaders() : this.#virtual.all();
  }

  /** The captured body (valid after a complete onDone). */
  body(): Buffer {
    return this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#size);
  }

  /**
   * Answers the client with something else than the app's response (a stale entry): the fields the app
   * set are dropped, `send` writes through the original methods, and the app's output is discarded.
   */
  replaceWith(send: (writeHead: ResponseMethod, end: ResponseMethod) => void): void {
    this.#swallow = true;
    this.storing = false;
    const res = this.#res;
    for (const name of res.getHeaderNames()) {
      const previous = this.before[name];
      if (previous === undefined) res.removeHeader(name);
      else res.setHeader(name, previous);
    }
    send(this.#original('writeHead'), this.#original('end'));
  }

  /** Answers 304 Not Modified now; the app's body is still captured for storing. */
  answerNotModified(): void {
    this.#swallow = true;
    const res = this.#res;
    for (const name of res.getHeaderNames()) {
      if (name.startsWith('content-') || name === 'transfer-encoding') res.removeHeader(name);
    }
    res.statusCode = 304;
    this.#sendHead(304);
    this.#original('end').call(res);
  }

  /** Gives up a virtual capture whose handler is too slow: its output keeps being swallowed, never stored. */
  abandon(): void {
    this.storing = false;
    this.#chunks = [];
    this.#settle(false, 'timeout');
  }

  // --- the wrapped methods ---------------------------------------------------------------------------

  writeHead(args: unknown[]): unknown {
    const res = this.#res;
    if (this.#headDone) return this.#swallow ? res : this.#original('writeHead').apply(res, args);
    applyWriteHeadArguments(res, args);
    this.#commit();
    if (this.#swallow) return res;
    return this.#sendHead(res.statusCode);
  }

  write(chunk: unknown, encoding: unknown, callback: unknown): unknown {
    const res = this.#res;
    if (this.#passthrough && !this.#swallow)
      return this.#original('write').call(res, chunk, encoding, callback);
    if (this.#ended)
      return this.#swallow ? false : this.#original('write').call(res, chunk, encoding, callback);
    if (!this.#headDone) res.writeHead(res.statusCode);
    if (this.storing) this.#collect(chunk, encoding);
    if (this.#swallow) {
      callLater(typeof encoding === 'function' ? encoding : callback);
      return true;
    }
    return this.#original('write').call(res, chunk, encoding, callback);
  }

  end(chunk: unknown, encoding: unknown, callback: unknown): unknown {
    const res = this.#res;
    if (this.#ended || (this.#passthrough && !this.#swallow)) {
      return this.#swallow ? res : this.#original('end').call(res, chunk, encoding, callback);
    }
    let cb = callback;
    let body = chunk;
    let enc = encoding;
    if (typeof body === 'function') {
      cb = body;
      body = undefined;
      enc = undefined;
    } else if (typeof enc === 'function') {
      cb = enc;
      enc = undefined;
    }
    this.#ended = true;
    if (!this.#headDone) {
      if (this.#size === 0)
        this.pendingBody = body === undefined || body === null ? EMPTY : toBuffer(body, enc);
      res.writeHead(res.statusCode);
    }
    if (this.storing) {
      if (this.pendingBody !== undefined) this.#add(this.pendingBody);
      else this.#collect(body, enc);
    }
    if (this.#swallow) {
      this.#finish();
      callLater(cb);
      return res;
    }
    const out = this.#original('end').call(res, body, enc, cb);
    this.#finish();
    return out;
  }

  close(): void {
    if (!this.#ended && this.#virtual === undefined) {
      this.storing = false;
      this.#chunks = [];
      this.#restore();
      this.#settle(false, 'aborted');
    }
  }

  /** Inside Node's writeHead, every wrapper has run: shows the sink the fields about to leave. */
  flushHead(firstLine: string, fields: unknown): unknown {
    const res = this.#res;
    const storeHeader = this.#storeHeader as StoreHeader;
    this.#finalHeaders(res.getHeaderNames().length > 0 ? res.getHeaders() : plainFields(fields), true);
    return storeHeader.call(res, firstLine, fields);
  }

  // --- internals ---------------------------------------------------------------------------------------

  /**
   * Calls the `writeHead` the cache wrapped. With the usual order (a session mounted before the cache) that
   * is another middleware's hook, which may only now add `Set-Cookie` or `Cache-Control: private`: while
   * storing, the fields are shown to the sink again once those hooks ran, inside Node's own `writeHead`
   * (where they can still be changed) and, in any case, once it returns.
   */
  #sendHead(status: number): unknown {
    const res = this.#res as ServerResponse & WithStoreHeader;
    const writeHead = this.#original('writeHead');
    const storeHeader = res._storeHeader;
    if (!this.storing || typeof storeHeader !== 'function') {
      const out = writeHead.call(res, status);
      this.#finalHeaders(res.getHeaders(), false);
      return out;
    }
    const hadOwn = Object.hasOwn(res, '_storeHeader');
    this.#storeHeader = storeHeader;
    res._storeHeader = storeHeaderHook;
    try {
      return writeHead.call(res, status);
    } finally {
      if (hadOwn) res._storeHeader = storeHeader;
      else delete res._storeHeader;
      this.#storeHeader = undefined;
      // Some hook sent the head without Node's writeHead: the fields are final now all the same.
      this.#finalHeaders(res.getHeaders(), false);
    }
  }

  #finalHeaders(fields: OutgoingHttpHeaders, flushing: boolean): void {
    if (!this.storing || this.#finalSeen) return;
    this.#finalSeen = true;
    this.#sink.onFinalHeaders(this, fields, flushing);
    if (!this.storing) this.#giveUp('not-stored');
  }

  #commit(): void {
    this.#headDone = true;
    if (this.#virtual !== undefined) this.#virtual.headersSent = true;
    this.#sink.onHeaders(this);
    if (!this.storing) this.#giveUp('not-stored');
  }

  /** Stops keeping the body; the originals take over again unless the app's output is being swallowed. */
  #giveUp(reason: string): void {
    this.#chunks = [];
    if (!this.#swallow) this.#restore();
    this.#settle(false, reason);
  }

  #collect(chunk: unknown, encoding: unknown): void {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    this.#add(toBuffer(chunk, encoding));
  }

  #add(buf: Buffer): void {
    if (buf.length === 0) return;
    this.#size += buf.length;
    if (this.#size > this.#maxBytes) {
      this.storing = false;
      this.#giveUp('too-large');
      return;
    }
    this.#chunks.push(buf);
  }

  #finish(): void {
    this.#restore();
    this.#settle(this.storing, this.storing ? 'complete' : 'not-stored');
  }

  #settle(complete: boolean, reason: string): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#sink.onDone(this, complete, reason);
  }

  #patch(name: string, wrapper: ResponseMethod): void {
    const target = this.#res as unknown as Record<string, ResponseMethod | undefined>;
    this.#hadOwn[name] = Object.hasOwn(target, name);
    this.#originals[name] = target[name];
    target[name] = wrapper;
  }

  #original(name: string): ResponseMethod {
    return this.#originals[name] as ResponseMethod;
  }

  /** Puts the original methods back where ours are still installed; elsewhere ours keep forwarding. */
  #restore(): void {
    if (this.#passthrough) return;
    this.#passthrough = true;
    for (const name of CAPTURED_METHOD_NAMES) this.#unpatch(name, CAPTURED_METHODS[name]);
    if (this.#virtual === undefined) return;
    for (const name of VIRTUAL_METHOD_NAMES) this.#unpatch(name, VIRTUAL_METHODS[name]);
    devirtualise(this.#res);
  }

  #unpatch(name: string, ours: ResponseMethod): void {
    const target = this.#res as unknown as Record<string, ResponseMethod | undefined>;
    if (target[name] !== ours) return;
    if (this.#hadOwn[name]) target[name] = this.#originals[name];
    else delete target[name];
  }
}
