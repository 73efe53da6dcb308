// Captures a response body while it goes out (tee), or instead of sending it (virtual: background refresh).
import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';

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

type Method = (this: ServerResponse, ...args: unknown[]) => unknown;
type Callback = (error?: Error | null) => void;
/**
 * Node's step that turns the fields into the header block, inside its own `writeHead`: the one moment after
 * every wrapper of `writeHead` ran and before anything is fixed. Not public API, so storing never depends
 * on it: the fields are checked again once `writeHead` returns.
 */
type StoreHeader = (this: ServerResponse, firstLine: string, fields: unknown) => unknown;
interface WithStoreHeader {
  _storeHeader?: StoreHeader;
}

const STATE: unique symbol = Symbol('express-redis-kit.responseCache.capture');
const PATCHED = ['writeHead', 'write', 'end'] as const;
const VIRTUAL = [
  'setHeader',
  'getHeader',
  'getHeaders',
  'getHeaderNames',
  'hasHeader',
  'removeHeader',
  'appendHeader',
  'flushHeaders',
] as const;
const EMPTY = Buffer.alloc(0);

interface Captured extends ServerResponse {
  [STATE]?: ResponseCapture;
}

/**
 * One response being captured. The wrappers installed on the response are module-level functions that
 * find their capture through a symbol, so no closure is created per request. `write`/`end` after the first
 * `end` go straight to the originals (double-end guard), and the originals are put back when the capture
 * finishes (unless another middleware wrapped ours meanwhile: ours then forwards everything).
 */
export class ResponseCapture {
  readonly res: ServerResponse;
  readonly sink: CaptureSink;
  /** Virtual: the client already has its answer; nothing is forwarded, fields live in `fields`. */
  readonly virtual: boolean;
  /** Fields set before the cache ran, by lower-case name. */
  readonly before: OutgoingHttpHeaders;
  readonly maxBytes: number;
  /** Set by the sink at onHeaders: keep the body for storing. */
  storing = false;
  /** The whole body, when it arrived in one `end()` before the fields were sent. */
  pendingBody: Buffer | undefined;
  chunks: Buffer[] = [];
  size = 0;

  private headDone = false;
  /** The sink saw the fields that leave (after every `writeHead` hook). */
  private finalSeen = false;
  /** Node's own `_storeHeader` while ours stands in for it. */
  private storeHeader: StoreHeader | undefined;
  private ended = false;
  /** Forward everything to the originals: nothing left to capture. */
  private passthrough = false;
  /** Forward nothing: the client got another answer (stale entry, 304) or this is virtual. */
  private swallow: boolean;
  private settled = false;
  private readonly originals: Record<string, Method | undefined> = {};
  private readonly hadOwn: Record<string, boolean> = {};
  private readonly fields: Record<string, OutgoingHttpHeader>;

  constructor(
    res: ServerResponse,
    sink: CaptureSink,
    virtual: boolean,
    before: OutgoingHttpHeaders,
    maxBytes: number,
  ) {
    this.res = res;
    this.sink = sink;
    this.virtual = virtual;
    this.swallow = virtual;
    this.before = before;
    this.maxBytes = maxBytes;
    this.fields = Object.create(null) as Record<string, OutgoingHttpHeader>;
    const target = res as Captured;
    target[STATE] = this;
    for (const name of PATCHED) this.patch(name, WRAPPERS[name]);
    if (virtual) {
      for (const [name, value] of Object.entries(before)) if (value !== undefined) this.fields[name] = value;
      for (const name of VIRTUAL) this.patch(name, VIRTUAL_HEADERS[name]);
      Object.defineProperty(res, 'headersSent', { configurable: true, get: virtualHeadersSent });
      // Express and on-finished read `finished`; the real response ended already, the virtual one has not.
      res.finished = false;
      res.statusCode = 200;
      res.statusMessage = '';
    } else {
      res.once('close', onClose);
    }
  }

  /** The status the app chose. */
  get status(): number {
    return this.res.statusCode;
  }

  /** The fields the app set (lower-case names), as they are now. */
  headers(): OutgoingHttpHeaders {
    return this.virtual ? { ...this.fields } : this.res.getHeaders();
  }

  /** The captured body (valid after a complete onDone). */
  body(): Buffer {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
  }

  /**
   * Answers the client with something else than the app's response (a stale entry): the fields the app
   * set are dropped, `send` writes through the original methods, and the app's output is discarded.
   */
  replaceWith(send: (writeHead: Method, end: Method) => void): void {
    this.swallow = true;
    this.storing = false;
    const res = this.res;
    for (const name of res.getHeaderNames()) {
      const previous = this.before[name];
      if (previous === undefined) res.removeHeader(name);
      else res.setHeader(name, previous);
    }
    send(this.original('writeHead'), this.original('end'));
  }

  /** Answers 304 Not Modified now; the app's body is still captured for storing. */
  answerNotModified(): void {
    this.swallow = true;
    const res = this.res;
    for (const name of res.getHeaderNames()) {
      if (name.startsWith('content-') || name === 'transfer-encoding') res.removeHeader(name);
    }
    res.statusCode = 304;
    this.sendHead(304);
    this.original('end').call(res);
  }

  /** Gives up a virtual capture whose handler is too slow: its output keeps being swallowed, never stored. */
  abandon(): void {
    this.storing = false;
    this.chunks = [];
    this.settle(false, 'timeout');
  }

  // --- the wrapped methods ---------------------------------------------------------------------------

  writeHead(args: unknown[]): unknown {
    const res = this.res;
    if (this.headDone) return this.swallow ? res : this.original('writeHead').apply(res, args);
    applyWriteHeadArguments(res, args);
    this.commit();
    if (this.swallow) return res;
    return this.sendHead(res.statusCode);
  }

  write(chunk: unknown, encoding: unknown, callback: unknown): unknown {
    const res = this.res;
    if (this.passthrough && !this.swallow) return this.original('write').call(res, chunk, encoding, callback);
    if (this.ended) return this.swallow ? false : this.original('write').call(res, chunk, encoding, callback);
    if (!this.headDone) res.writeHead(res.statusCode);
    if (this.storing) this.collect(chunk, encoding);
    if (this.swallow) {
      callLater(typeof encoding === 'function' ? encoding : callback);
      return true;
    }
    return this.original('write').call(res, chunk, encoding, callback);
  }

  end(chunk: unknown, encoding: unknown, callback: unknown): unknown {
    const res = this.res;
    if (this.ended || (this.passthrough && !this.swallow)) {
      return this.swallow ? res : this.original('end').call(res, chunk, encoding, callback);
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
    this.ended = true;
    if (!this.headDone) {
      if (this.size === 0)
        this.pendingBody = body === undefined || body === null ? EMPTY : toBuffer(body, enc);
      res.writeHead(res.statusCode);
    }
    if (this.storing) {
      if (this.pendingBody !== undefined) this.add(this.pendingBody);
      else this.collect(body, enc);
    }
    if (this.swallow) {
      this.finish();
      callLater(cb);
      return res;
    }
    const out = this.original('end').call(res, body, enc, cb);
    this.finish();
    return out;
  }

  close(): void {
    if (!this.ended && !this.virtual) {
      this.storing = false;
      this.chunks = [];
      this.restore();
      this.settle(false, 'aborted');
    }
  }

  // --- virtual fields ----------------------------------------------------------------------------------

  get virtualHeadersSent(): boolean {
    return this.headDone;
  }

  setField(name: string, value: OutgoingHttpHeader): void {
    this.fields[name.toLowerCase()] = typeof value === 'number' ? String(value) : value;
  }

  getField(name: string): OutgoingHttpHeader | undefined {
    return this.fields[name.toLowerCase()];
  }

  removeField(name: string): void {
    delete this.fields[name.toLowerCase()];
  }

  fieldNames(): string[] {
    return Object.keys(this.fields);
  }

  // --- internals ---------------------------------------------------------------------------------------

  /**
   * Calls the `writeHead` the cache wrapped. With the usual order (a session mounted before the cache) that
   * is another middleware's hook, which may only now add `Set-Cookie` or `Cache-Control: private`: while
   * storing, the fields are shown to the sink again once those hooks ran, inside Node's own `writeHead`
   * (where they can still be changed) and, in any case, once it returns.
   */
  private sendHead(status: number): unknown {
    const res = this.res as Captured & WithStoreHeader;
    const writeHead = this.original('writeHead');
    const storeHeader = res._storeHeader;
    if (!this.storing || typeof storeHeader !== 'function') {
      const out = writeHead.call(res, status);
      this.finalHeaders(res.getHeaders(), false);
      return out;
    }
    const hadOwn = Object.hasOwn(res, '_storeHeader');
    this.storeHeader = storeHeader;
    res._storeHeader = storeHeaderHook;
    try {
      return writeHead.call(res, status);
    } finally {
      if (hadOwn) res._storeHeader = storeHeader;
      else delete res._storeHeader;
      this.storeHeader = undefined;
      // Some hook sent the head without Node's writeHead: the fields are final now all the same.
      this.finalHeaders(res.getHeaders(), false);
    }
  }

  /** Inside Node's writeHead, every wrapper has run: shows the sink the fields about to leave. */
  flushHead(firstLine: string, fields: unknown): unknown {
    const res = this.res;
    const storeHeader = this.storeHeader as StoreHeader;
    this.finalHeaders(res.getHeaderNames().length > 0 ? res.getHeaders() : plainFields(fields), true);
    return storeHeader.call(res, firstLine, fields);
  }

  private finalHeaders(fields: OutgoingHttpHeaders, flushing: boolean): void {
    if (!this.storing || this.finalSeen) return;
    this.finalSeen = true;
    this.sink.onFinalHeaders(this, fields, flushing);
    if (this.storing) return;
    this.chunks = [];
    if (!this.swallow) this.restore();
    this.settle(false, 'not-stored');
  }

  private commit(): void {
    this.headDone = true;
    this.sink.onHeaders(this);
    if (!this.storing) {
      this.chunks = [];
      if (!this.swallow) this.restore();
      this.settle(false, 'not-stored');
    }
  }

  private collect(chunk: unknown, encoding: unknown): void {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    this.add(toBuffer(chunk, encoding));
  }

  private add(buf: Buffer): void {
    if (buf.length === 0) return;
    this.size += buf.length;
    if (this.size > this.maxBytes) {
      this.storing = false;
      this.chunks = [];
      if (!this.swallow) this.restore();
      this.settle(false, 'too-large');
      return;
    }
    this.chunks.push(buf);
  }

  private finish(): void {
    this.restore();
    this.settle(this.storing, this.storing ? 'complete' : 'not-stored');
  }

  private settle(complete: boolean, reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.sink.onDone(this, complete, reason);
  }

  private patch(name: string, wrapper: Method): void {
    const target = this.res as unknown as Record<string, Method | undefined>;
    this.hadOwn[name] = Object.hasOwn(target, name);
    this.originals[name] = target[name];
    target[name] = wrapper;
  }

  private original(name: string): Method {
    return this.originals[name] as Method;
  }

  /** Puts the original methods back where ours are still installed; elsewhere ours keep forwarding. */
  private restore(): void {
    if (this.passthrough) return;
    this.passthrough = true;
    const target = this.res as unknown as Record<string, Method | undefined>;
    const names: readonly string[] = this.virtual ? [...PATCHED, ...VIRTUAL] : PATCHED;
    for (const name of names) {
      const ours =
        (WRAPPERS as Record<string, Method>)[name] ?? (VIRTUAL_HEADERS as Record<string, Method>)[name];
      if (target[name] !== ours) continue;
      if (this.hadOwn[name]) target[name] = this.originals[name];
      else delete target[name];
    }
    if (this.virtual) {
      delete (this.res as unknown as Record<string, unknown>).headersSent;
      this.res.finished = true;
    }
  }
}

/** Applies `writeHead(status[, reason][, fields])` arguments to the response, as Node would. */
function applyWriteHeadArguments(res: ServerResponse, args: unknown[]): void {
  const status = args[0];
  let fields = args[1];
  if (typeof fields === 'string') {
    res.statusMessage = fields;
    fields = args[2];
  }
  if (typeof status === 'number') res.statusCode = status;
  if (Array.isArray(fields)) {
    const grouped = new Map<string, string[]>();
    if (Array.isArray(fields[0])) {
      for (const pair of fields as unknown[][]) addField(grouped, pair[0], pair[1]);
    } else {
      for (let i = 0; i + 1 < fields.length; i += 2) addField(grouped, fields[i], fields[i + 1]);
    }
    for (const [name, values] of grouped)
      res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
  } else if (fields !== null && typeof fields === 'object') {
    for (const [name, value] of Object.entries(fields)) {
      if (value !== undefined) res.setHeader(name, value as OutgoingHttpHeader);
    }
  }
}

/** The fields Node was handed directly (`writeHead(status, fields)` with none set before), lower-cased. */
function plainFields(fields: unknown): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (fields === null || typeof fields !== 'object') return out;
  const grouped = new Map<string, string[]>();
  if (Array.isArray(fields)) {
    if (Array.isArray(fields[0]))
      for (const pair of fields as unknown[][]) addField(grouped, pair[0], pair[1]);
    else for (let i = 0; i + 1 < fields.length; i += 2) addField(grouped, fields[i], fields[i + 1]);
  } else {
    for (const [name, value] of Object.entries(fields))
      if (value !== undefined) addField(grouped, name, value);
  }
  for (const [name, values] of grouped) out[name] = values.length === 1 ? values[0] : values;
  return out;
}

function addField(grouped: Map<string, string[]>, name: unknown, value: unknown): void {
  if (typeof name !== 'string' || name === '') return;
  const key = name.toLowerCase();
  const list = grouped.get(key) ?? [];
  if (Array.isArray(value)) for (const v of value) list.push(String(v));
  else list.push(String(value));
  grouped.set(key, list);
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk));
}

function callLater(callback: unknown): void {
  if (typeof callback === 'function') process.nextTick(callback as Callback);
}

function capture(res: ServerResponse): ResponseCapture {
  return (res as Captured)[STATE] as ResponseCapture;
}

const WRAPPERS = {
  writeHead: function writeHead(this: ServerResponse, ...args: unknown[]) {
    return capture(this).writeHead(args);
  },
  write: function write(this: ServerResponse, chunk: unknown, encoding: unknown, callback: unknown) {
    return capture(this).write(chunk, encoding, callback);
  },
  end: function end(this: ServerResponse, chunk: unknown, encoding: unknown, callback: unknown) {
    return capture(this).end(chunk, encoding, callback);
  },
} satisfies Record<(typeof PATCHED)[number], Method>;

const VIRTUAL_HEADERS = {
  setHeader: function setHeader(this: ServerResponse, name: unknown, value: unknown) {
    capture(this).setField(String(name), value as OutgoingHttpHeader);
    return this;
  },
  getHeader: function getHeader(this: ServerResponse, name: unknown) {
    return capture(this).getField(String(name));
  },
  getHeaders: function getHeaders(this: ServerResponse) {
    return capture(this).headers();
  },
  getHeaderNames: function getHeaderNames(this: ServerResponse) {
    return capture(this).fieldNames();
  },
  hasHeader: function hasHeader(this: ServerResponse, name: unknown) {
    return capture(this).getField(String(name)) !== undefined;
  },
  removeHeader: function removeHeader(this: ServerResponse, name: unknown) {
    capture(this).removeField(String(name));
  },
  appendHeader: function appendHeader(this: ServerResponse, name: unknown, value: unknown) {
    const c = capture(this);
    const previous = c.getField(String(name));
    const list = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
    c.setField(String(name), list.concat(Array.isArray(value) ? value.map(String) : [String(value)]));
    return this;
  },
  flushHeaders: function flushHeaders(this: ServerResponse) {
    if (!capture(this).virtualHeadersSent) this.writeHead(this.statusCode);
  },
} satisfies Record<(typeof VIRTUAL)[number], Method>;

function virtualHeadersSent(this: ServerResponse): boolean {
  return capture(this).virtualHeadersSent;
}

function storeHeaderHook(this: ServerResponse, firstLine: string, fields: unknown): unknown {
  return capture(this).flushHead(firstLine, fields);
}

function onClose(this: ServerResponse): void {
  capture(this)?.close();
}
