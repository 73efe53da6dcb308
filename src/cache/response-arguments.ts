// Reads the arguments of a response's writeHead, write and end the way Node does, for a capture in between.
import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';

type Callback = (error?: Error | null) => void;

/** Applies `writeHead(status[, reason][, fields])` arguments to the response, as Node would. */
export function applyWriteHeadArguments(res: ServerResponse, args: unknown[]): void {
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
export function plainFields(fields: unknown): OutgoingHttpHeaders {
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

/** A chunk given to `write` or `end` as the bytes Node would send. */
export function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk));
}

/** Calls a `write`/`end` callback the way Node would once the data is handled: asynchronously. */
export function callLater(callback: unknown): void {
  if (typeof callback === 'function') process.nextTick(callback as Callback);
}
