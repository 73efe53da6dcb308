// A virtual response: a background refresh runs the route again after the client got its stale answer, on
// the same response object, whose fields then live in an object of their own and which pretends not to be done.
import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ResponseMethod } from './response-method.js';

const FIELDS: unique symbol = Symbol('express-redis-kit.responseCache.virtualFields');

interface Virtual extends ServerResponse {
  [FIELDS]?: VirtualFields;
}

/** The fields of a virtual response, by lower-case name. */
export class VirtualFields {
  /** The app's `writeHead` ran (nothing went to the client). */
  headersSent = false;
  readonly #fields = Object.create(null) as Record<string, OutgoingHttpHeader>;

  constructor(before: OutgoingHttpHeaders) {
    for (const [name, value] of Object.entries(before)) if (value !== undefined) this.#fields[name] = value;
  }

  set(name: string, value: OutgoingHttpHeader): void {
    this.#fields[name.toLowerCase()] = typeof value === 'number' ? String(value) : value;
  }

  get(name: string): OutgoingHttpHeader | undefined {
    return this.#fields[name.toLowerCase()];
  }

  remove(name: string): void {
    delete this.#fields[name.toLowerCase()];
  }

  names(): string[] {
    return Object.keys(this.#fields);
  }

  /** A copy of every field, as `res.getHeaders()` returns it. */
  all(): OutgoingHttpHeaders {
    return { ...this.#fields };
  }
}

function fieldsOf(res: ServerResponse): VirtualFields {
  return (res as Virtual)[FIELDS] as VirtualFields;
}

/** The field methods of a virtual response, installed (and put back) by its capture in place of Node's. */
export const VIRTUAL_METHODS = {
  setHeader: function setHeader(this: ServerResponse, name: unknown, value: unknown) {
    fieldsOf(this).set(String(name), value as OutgoingHttpHeader);
    return this;
  },
  getHeader: function getHeader(this: ServerResponse, name: unknown) {
    return fieldsOf(this).get(String(name));
  },
  getHeaders: function getHeaders(this: ServerResponse) {
    return fieldsOf(this).all();
  },
  getHeaderNames: function getHeaderNames(this: ServerResponse) {
    return fieldsOf(this).names();
  },
  hasHeader: function hasHeader(this: ServerResponse, name: unknown) {
    return fieldsOf(this).get(String(name)) !== undefined;
  },
  removeHeader: function removeHeader(this: ServerResponse, name: unknown) {
    fieldsOf(this).remove(String(name));
  },
  appendHeader: function appendHeader(this: ServerResponse, name: unknown, value: unknown) {
    const fields = fieldsOf(this);
    const previous = fields.get(String(name));
    const list = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
    fields.set(String(name), list.concat(Array.isArray(value) ? value.map(String) : [String(value)]));
    return this;
  },
  flushHeaders: function flushHeaders(this: ServerResponse) {
    if (!fieldsOf(this).headersSent) this.writeHead(this.statusCode);
  },
} satisfies Record<string, ResponseMethod>;

export const VIRTUAL_METHOD_NAMES = Object.freeze(
  Object.keys(VIRTUAL_METHODS) as (keyof typeof VIRTUAL_METHODS)[],
);

/**
 * Makes an ended response look fresh to Express and on-finished, with the fields set `before` the cache ran.
 * Its capture installs {@link VIRTUAL_METHODS}.
 */
export function virtualise(res: ServerResponse, before: OutgoingHttpHeaders): VirtualFields {
  const fields = new VirtualFields(before);
  (res as Virtual)[FIELDS] = fields;
  Object.defineProperty(res, 'headersSent', { configurable: true, get: virtualHeadersSent });
  // Express and on-finished read `finished`; the real response ended already, the virtual one has not.
  res.finished = false;
  res.statusCode = 200;
  res.statusMessage = '';
  return fields;
}

/** Ends the pretence: the response is the finished one again. */
export function devirtualise(res: ServerResponse): void {
  delete (res as unknown as Record<string, unknown>).headersSent;
  res.finished = true;
}

function virtualHeadersSent(this: ServerResponse): boolean {
  return fieldsOf(this).headersSent;
}
