// The decision from a script's reply, without Redis: each rule's state, the binding rule, retry-after.
import { describe, expect, it } from 'vitest';
import { type DecisionRules, decide } from '../../src/rate-limit/decision.js';

const minute = { name: 'api', limit: 100, windowMs: 60_000, burst: 100 };
const second = { name: 'api-1s', limit: 10, windowMs: 1_000, burst: 10 };
const hour = { name: 'api-1h', limit: 1_000, windowMs: 3_600_000, burst: 1_000 };

/** The main rule of a minute, then a 1 s and a 1 h rule: the script takes them hour, minute, second. */
const three: DecisionRules = { rules: [minute, second, hour], scriptOrder: [2, 0, 1] };
const one: DecisionRules = { rules: [minute], scriptOrder: [0] };
const NOW_US = 1_700_000_000_123_456;

/** A reply: allowed, now, then (remaining, resetMs, retryMs) per rule in script order. */
const reply = (allowed: boolean, ...rules: [number, number, number][]) => [
  allowed ? 1 : 0,
  NOW_US,
  ...rules.flat(),
];

describe('decide', () => {
  it('describes an admitted request under one rule', () => {
    const info = decide(reply(true, [99, 60_000, 0]), one, 'client-1', 1);
    expect(info).toStrictEqual({
      name: 'api',
      limit: 100,
      remaining: 99,
      resetMs: 60_000,
      allowed: true,
      key: 'client-1',
      cost: 1,
      now: 1_700_000_000_123,
      rules: [{ name: 'api', limit: 100, windowMs: 60_000, remaining: 99, resetMs: 60_000 }],
    });
  });

  it('reports the rules in the order of the options, whatever the order of the script', () => {
    const info = decide(reply(true, [900, 3_000_000, 0], [90, 50_000, 0], [5, 800, 0]), three, 'k', 1);
    expect(info.rules.map((r) => [r.name, r.remaining, r.resetMs])).toEqual([
      ['api', 90, 50_000],
      ['api-1s', 5, 800],
      ['api-1h', 900, 3_000_000],
    ]);
  });

  it('binds an admitted request to the rule with the fewest units left', () => {
    const info = decide(reply(true, [900, 3_000_000, 0], [90, 50_000, 0], [5, 800, 0]), three, 'k', 1);
    expect([info.name, info.limit, info.remaining, info.resetMs]).toEqual(['api-1s', 10, 5, 800]);
    expect(info.retryAfterMs).toBeUndefined();
  });

  it('on a tie of units left, binds to the rule that resets last', () => {
    const info = decide(reply(true, [5, 3_000_000, 0], [5, 50_000, 0], [5, 800, 0]), three, 'k', 1);
    expect([info.name, info.remaining, info.resetMs]).toEqual(['api-1h', 5, 3_000_000]);
  });

  it('binds a refused request to the refusing rule with the longest wait', () => {
    const info = decide(
      reply(false, [0, 3_000_000, 120_000], [0, 50_000, 4_000], [3, 800, 0]),
      three,
      'k',
      1,
    );
    expect(info.allowed).toBe(false);
    expect([info.name, info.limit, info.resetMs, info.retryAfterMs]).toEqual([
      'api-1h',
      1_000,
      3_000_000,
      120_000,
    ]);
    // The smallest remaining over every rule, not the binding rule's.
    expect(info.remaining).toBe(0);
    expect(info.rules.map((r) => r.retryAfterMs)).toEqual([4_000, undefined, 120_000]);
    expect(info.rules[1]).not.toHaveProperty('retryAfterMs');
  });

  it('on a tie of waits, binds to the first refusing rule of the options', () => {
    const info = decide(reply(false, [0, 3_000_000, 4_000], [0, 50_000, 4_000], [3, 800, 0]), three, 'k', 2);
    expect([info.name, info.retryAfterMs, info.cost]).toEqual(['api', 4_000, 2]);
  });

  it('says never (Infinity) when the cost is above a rule and the script answers -1', () => {
    const info = decide(reply(false, [1_000, 0, 0], [100, 0, -1], [10, 0, -1]), three, 'k', 50);
    expect(info.retryAfterMs).toBe(Number.POSITIVE_INFINITY);
    expect(info.name).toBe('api');
    expect(info.rules.map((r) => r.retryAfterMs)).toEqual([
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      undefined,
    ]);
  });

  it('reads negative remaining units and resets as zero', () => {
    const info = decide(reply(false, [-3, -1, 500]), one, 'k', 1);
    expect([info.remaining, info.resetMs, info.retryAfterMs]).toEqual([0, 0, 500]);
    expect(info.rules[0]).toMatchObject({ remaining: 0, resetMs: 0, retryAfterMs: 500 });
  });
});
