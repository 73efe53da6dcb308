import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeEntry,
  type EntryData,
  KIND_ENTRY,
  packEntry,
  readEntryLabels,
} from '../../src/cache/entry.js';

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/);
const latin1 = fc.string({
  unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
  maxLength: 200,
});

const entryArb: fc.Arbitrary<EntryData> = fc.record({
  status: fc.integer({ min: 200, max: 599 }),
  storedAt: fc.integer({ min: 0, max: 2 ** 47 }),
  freshUntil: fc.integer({ min: 0, max: 2 ** 47 }),
  swrUntil: fc.integer({ min: 0, max: 2 ** 47 }),
  sieUntil: fc.integer({ min: 0, max: 2 ** 47 }),
  headers: fc.uniqueArray(
    fc.tuple(token, fc.oneof(latin1, fc.array(latin1, { minLength: 2, maxLength: 4 }))),
    { selector: ([n]) => n, maxLength: 20 },
  ),
  etag: latin1,
  vary: fc.array(fc.tuple(token, latin1), { maxLength: 4 }),
  tags: fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 8 }),
  url: fc.string({ maxLength: 300 }),
  body: fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
});

describe('packed entries', () => {
  it('round-trip every field, binary bodies byte for byte', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const buf = packEntry(e);
        expect(buf[0]).toBe(KIND_ENTRY);
        const d = decodeEntry(buf);
        expect(d.status).toBe(e.status);
        expect([d.storedAt, d.freshUntil, d.swrUntil, d.sieUntil]).toEqual([
          e.storedAt,
          e.freshUntil,
          e.swrUntil,
          e.sieUntil,
        ]);
        expect(d.headers).toEqual(e.headers.flat());
        expect(d.etag).toBe(e.etag);
        expect(d.vary).toEqual(e.vary.flat());
        expect(Buffer.compare(d.body, e.body)).toBe(0);
        const labels = readEntryLabels(buf);
        expect(labels.tags).toEqual(e.tags);
        expect(labels.url).toBe(e.url);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every byte value of a body, and the body is a view, not a copy', () => {
    const body = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    const buf = packEntry({
      status: 200,
      storedAt: 1,
      freshUntil: 2,
      swrUntil: 3,
      sieUntil: 4,
      headers: [['content-type', 'application/octet-stream']],
      etag: '"x"',
      vary: [],
      tags: [],
      url: '/bin',
      body,
    });
    const d = decodeEntry(buf);
    expect(d.body.equals(body)).toBe(true);
    expect(d.body.buffer).toBe(buf.buffer);
  });

  it('refuses truncated and foreign values instead of serving garbage', () => {
    const buf = packEntry({
      status: 200,
      storedAt: 1,
      freshUntil: 2,
      swrUntil: 3,
      sieUntil: 4,
      headers: [['content-type', 'text/plain']],
      etag: '"abc"',
      vary: [['accept-language', 'fr']],
      tags: ['t'],
      url: '/x',
      body: Buffer.from('hello'),
    });
    expect(() => decodeEntry(buf.subarray(0, 20))).toThrow(RangeError);
    expect(() => decodeEntry(buf.subarray(0, 40))).toThrow(RangeError);
    expect(() => decodeEntry(Buffer.from('{"json":"value"}'))).toThrow(RangeError);
    expect(() => decodeEntry(Buffer.from([0xd1, 0x31]))).toThrow(RangeError);
  });
});
