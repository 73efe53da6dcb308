// Packs a cached response into one binary Redis string and reads it back, the body without a copy.

/**
 * First byte of every value this cache writes under an entry key. The Lua scripts read it with GETRANGE, so
 * the numbers are shared with scripts.ts: 0xE1 entry (format 1), 0xD1 tombstone, 0xC1 hit-for-miss marker.
 */
export const KIND_ENTRY = 0xe1;
export const KIND_TOMBSTONE = 0xd1;
export const KIND_MARKER = 0xc1;

/** The value of a hit-for-miss marker: "this URL answered with something uncacheable, don't wait for it". */
export const MARKER_VALUE: Buffer = Buffer.from([KIND_MARKER]);

/** Everything an entry holds. Times are epoch milliseconds. */
export interface EntryData {
  readonly status: number;
  /** When the response was made: the time it was stored minus its age then. `Age` counts from it. */
  readonly storedAt: number;
  /** Fresh until this time. */
  readonly freshUntil: number;
  /** May be served stale while one request refreshes it, until this time. */
  readonly swrUntil: number;
  /** May be served stale instead of an error, until this time. */
  readonly sieUntil: number;
  /** Response headers, lower-case names; a list value is sent as repeated fields. */
  readonly headers: readonly (readonly [string, string | readonly string[]])[];
  /** The ETag sent with the entry (the app's, or a strong one computed from the body). */
  readonly etag: string;
  /** For each header the response varies on that is not part of the key: the request's value at fill time. */
  readonly vary: readonly (readonly [string, string])[];
  readonly tags: readonly string[];
  /** The cache key before hashing, kept for debugging (`redis-cli GET` shows it). */
  readonly url: string;
  readonly body: Buffer;
}

/** An entry as the hit path needs it. */
export interface DecodedEntry {
  readonly status: number;
  readonly storedAt: number;
  readonly freshUntil: number;
  readonly swrUntil: number;
  readonly sieUntil: number;
  /** Flat `[name, value, name, value, ...]`, ready for `res.writeHead`; callers may push more fields. */
  readonly headers: (string | string[])[];
  readonly etag: string;
  /** Flat `[name, value, ...]` of the vary values stored at fill time. */
  readonly vary: readonly string[];
  readonly body: Buffer;
}

const FIXED = 33;
const MAX_URL_CHARS = 1_024;

/** Serialises an entry: one Buffer, written to Redis with one SET. */
export function packEntry(e: EntryData): Buffer {
  let size = FIXED;
  for (const [name, value] of e.headers) {
    size += 2 + name.length;
    if (typeof value === 'string') size += 4 + value.length;
    else for (const v of value) size += 4 + v.length;
  }
  size += 2 + e.etag.length + 1;
  for (const [name, value] of e.vary) size += 1 + name.length + 2 + value.length;
  size += 2;
  const tagBytes = e.tags.map((t) => Buffer.from(t, 'utf8'));
  for (const t of tagBytes) size += 2 + t.length;
  const url = Buffer.from(e.url.length > MAX_URL_CHARS ? e.url.slice(0, MAX_URL_CHARS) : e.url, 'utf8');
  size += 2 + url.length;
  const bodyOffset = size;
  size += e.body.length;

  const buf = Buffer.allocUnsafe(size);
  buf[0] = KIND_ENTRY;
  buf.writeUInt16BE(e.status, 1);
  buf.writeUIntBE(e.storedAt, 3, 6);
  buf.writeUIntBE(e.freshUntil, 9, 6);
  buf.writeUIntBE(e.swrUntil, 15, 6);
  buf.writeUIntBE(e.sieUntil, 21, 6);
  buf.writeUInt16BE(e.headers.length, 27);
  buf.writeUInt32BE(bodyOffset, 29);
  let o = FIXED;
  for (const [name, value] of e.headers) {
    buf[o++] = name.length;
    o += buf.write(name, o, 'latin1');
    const values = typeof value === 'string' ? [value] : value;
    buf[o++] = values.length;
    for (const v of values) {
      buf.writeUInt32BE(v.length, o);
      o += 4;
      o += buf.write(v, o, 'latin1');
    }
  }
  buf.writeUInt16BE(e.etag.length, o);
  o += 2;
  o += buf.write(e.etag, o, 'latin1');
  buf[o++] = e.vary.length;
  for (const [name, value] of e.vary) {
    buf[o++] = name.length;
    o += buf.write(name, o, 'latin1');
    buf.writeUInt16BE(value.length, o);
    o += 2;
    o += buf.write(value, o, 'latin1');
  }
  buf.writeUInt16BE(tagBytes.length, o);
  o += 2;
  for (const t of tagBytes) {
    buf.writeUInt16BE(t.length, o);
    o += 2;
    o += t.copy(buf, o);
  }
  buf.writeUInt16BE(url.length, o);
  o += 2;
  o += url.copy(buf, o);
  e.body.copy(buf, o);
  return buf;
}

/** Reads a value field by field, advancing its offset. */
class Reader {
  o: number;
  constructor(
    readonly buf: Buffer,
    offset: number,
  ) {
    this.o = offset;
  }
  u8(): number {
    const v = this.buf.readUInt8(this.o);
    this.o += 1;
    return v;
  }
  u16(): number {
    const v = this.buf.readUInt16BE(this.o);
    this.o += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.o);
    this.o += 4;
    return v;
  }
  text(length: number, encoding: 'latin1' | 'utf8' = 'latin1'): string {
    const end = this.o + length;
    if (end > this.buf.length) throw new RangeError('truncated cache entry');
    const v = this.buf.toString(encoding, this.o, end);
    this.o = end;
    return v;
  }
}

/**
 * Reads an entry for serving: fixed fields, headers, ETag and vary values; tags and URL are skipped and the
 * body is a view into `buf`. Throws a RangeError on a truncated or foreign value (the caller treats it as a
 * miss).
 */
export function decodeEntry(buf: Buffer): DecodedEntry {
  if (buf.length < FIXED || buf[0] !== KIND_ENTRY) throw new RangeError('not a cache entry');
  const count = buf.readUInt16BE(27);
  const bodyOffset = buf.readUInt32BE(29);
  if (bodyOffset > buf.length) throw new RangeError('truncated cache entry');
  const r = new Reader(buf, FIXED);
  const headers: (string | string[])[] = new Array(count * 2);
  for (let i = 0; i < count; i++) {
    headers[i * 2] = r.text(r.u8());
    const n = r.u8();
    if (n === 1) {
      headers[i * 2 + 1] = r.text(r.u32());
    } else {
      const values: string[] = new Array(n);
      for (let k = 0; k < n; k++) values[k] = r.text(r.u32());
      headers[i * 2 + 1] = values;
    }
  }
  const etag = r.text(r.u16());
  const varyCount = r.u8();
  const vary: string[] = new Array(varyCount * 2);
  for (let i = 0; i < varyCount; i++) {
    vary[i * 2] = r.text(r.u8());
    vary[i * 2 + 1] = r.text(r.u16());
  }
  if (r.o > bodyOffset) throw new RangeError('corrupt cache entry');
  return {
    status: buf.readUInt16BE(1),
    storedAt: buf.readUIntBE(3, 6),
    freshUntil: buf.readUIntBE(9, 6),
    swrUntil: buf.readUIntBE(15, 6),
    sieUntil: buf.readUIntBE(21, 6),
    headers,
    etag,
    vary,
    body: buf.subarray(bodyOffset),
  };
}

/** Reads an entry for serving, or undefined when the value is truncated or not an entry (a miss). */
export function tryDecodeEntry(buf: Buffer): DecodedEntry | undefined {
  try {
    return decodeEntry(buf);
  } catch {
    return undefined;
  }
}

/** Reads the tags and URL of an entry (for tests and debugging; the hit path skips them). */
export function readEntryLabels(buf: Buffer): { tags: string[]; url: string } {
  decodeEntry(buf);
  const r = new Reader(buf, FIXED);
  const count = buf.readUInt16BE(27);
  for (let i = 0; i < count; i++) {
    r.text(r.u8());
    const n = r.u8();
    for (let k = 0; k < n; k++) r.text(r.u32());
  }
  r.text(r.u16());
  const varyCount = r.u8();
  for (let i = 0; i < varyCount; i++) {
    r.text(r.u8());
    r.text(r.u16());
  }
  const tags: string[] = [];
  const tagCount = r.u16();
  for (let i = 0; i < tagCount; i++) tags.push(r.text(r.u16(), 'utf8'));
  return { tags, url: r.text(r.u16(), 'utf8') };
}
