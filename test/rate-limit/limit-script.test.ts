// The scripts' reply as the app reads it: one string of integers, without Redis.
import { describe, expect, it } from 'vitest';
import { decodeReply, parseReply } from '../../src/rate-limit/limit-script.js';

describe('parseReply', () => {
  it('reads the integers of a reply, Redis time in µs included', () => {
    expect(parseReply('1 1733350000123456 999999 3600000 0')).toEqual([
      1, 1_733_350_000_123_456, 999_999, 3_600_000, 0,
    ]);
  });

  it('reads negative values: remaining units below zero and retry -1 (never)', () => {
    expect(parseReply('0 1733350000123456 -3 0 -1 5 800 1200')).toEqual([
      0, 1_733_350_000_123_456, -3, 0, -1, 5, 800, 1_200,
    ]);
  });

  it('falls back to the general reading for anything else a script could send', () => {
    expect(parseReply('1 1.7e+15 2.5 0 0')).toEqual([1, 1.7e15, 2.5, 0, 0]);
  });

  it('decodes into the per-rule lists the tests and tools use', () => {
    expect(decodeReply(parseReply('0 1733350000123456 -3 0 -1 5 800 1200'), 2)).toEqual({
      allowed: false,
      nowUs: 1_733_350_000_123_456,
      remaining: [0, 5],
      resetMs: [0, 800],
      retryMs: [-1, 1_200],
    });
  });
});
