// Behaviour 4: a fast-check property over random arrival times against a model of the exact window.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSlidingLog, type LimitReply, type LogRule } from '../../src/rate-limit/script.js';
import { useTestRedis } from '../helpers/redis.js';
import { sleep } from './app.js';

const redis = useTestRedis();
const client = redis.connect();
let run = 0;

interface Decision {
  readonly cost: number;
  readonly reply: LimitReply;
}

/**
 * Replays the decisions in Redis-time order against a model of the exact sliding window: a request is
 * admitted iff, for every rule, the units admitted in (now - window, now] plus its cost fit the limit.
 * Checks the admission itself, `remaining`, and the exact `retryMs` of every refusing rule.
 */
function checkAgainstModel(rules: readonly LogRule[], decisions: readonly Decision[]): void {
  const admitted: { t: number; cost: number }[] = [];
  const ordered = [...decisions].sort((a, b) => a.reply.nowUs - b.reply.nowUs);
  for (const { cost, reply } of ordered) {
    const now = reply.nowUs;
    const inWindow = rules.map((rule) => admitted.filter((a) => a.t > now - rule.windowMs * 1000));
    const counts = inWindow.map((list) => list.reduce((sum, a) => sum + a.cost, 0));
    const fits = rules.every((rule, i) => (counts[i] as number) + cost <= rule.limit);
    // Admitted iff there was room: never over the limit, never refused while a rule had room.
    expect(reply.allowed, `decision at ${now} µs, counts ${counts}, cost ${cost}`).toBe(fits);
    if (fits) admitted.push({ t: now, cost });
    rules.forEach((rule, i) => {
      const used = (counts[i] as number) + (fits ? cost : 0);
      expect(reply.remaining[i]).toBe(Math.max(0, rule.limit - used));
      const refusing = !fits && (counts[i] as number) + cost > rule.limit;
      if (!refusing) {
        expect(reply.retryMs[i]).toBe(0);
        return;
      }
      if (cost > rule.limit) {
        expect(reply.retryMs[i]).toBe(-1); // can never fit
        return;
      }
      // The request fits once `need` units have left: the need-th oldest unit's exit time.
      const units = (inWindow[i] ?? []).flatMap((a) => Array<number>(a.cost).fill(a.t));
      const need = (counts[i] as number) + cost - rule.limit;
      const exit = (units[need - 1] as number) + rule.windowMs * 1000;
      expect(reply.retryMs[i]).toBe(Math.ceil((exit - now) / 1000));
    });
  }
  // The headline property, stated directly: no trailing window ever holds more than `limit` units.
  for (const rule of rules) {
    for (const end of admitted) {
      const held = admitted
        .filter((a) => a.t > end.t - rule.windowMs * 1000 && a.t <= end.t)
        .reduce((sum, a) => sum + a.cost, 0);
      expect(held).toBeLessThanOrEqual(rule.limit);
    }
  }
}

describe('behaviour 4: property test over random arrival times', () => {
  it('never lets a trailing window exceed a limit, and refuses only when a window is full', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          limit: fc.integer({ min: 1, max: 6 }),
          windowMs: fc.integer({ min: 100, max: 350 }),
          burst: fc.option(
            fc.record({ limit: fc.integer({ min: 1, max: 3 }), windowMs: fc.integer({ min: 20, max: 90 }) }),
          ),
          arrivals: fc.array(
            fc.record({ at: fc.integer({ min: 0, max: 550 }), cost: fc.integer({ min: 1, max: 3 }) }),
            { minLength: 4, maxLength: 30 },
          ),
        }),
        async ({ limit, windowMs, burst, arrivals }) => {
          run += 1;
          const rules: LogRule[] = [{ limit, windowMs }, ...(burst ? [burst] : [])];
          const log = createSlidingLog(client, rules);
          const key = redis.prefix(`rl:prop:{${run}}:${windowMs}`);
          // Each request fires at its own offset, so some overlap in flight, as real traffic does.
          const decisions = await Promise.all(
            arrivals.map(async ({ at, cost }) => {
              await sleep(at);
              return { cost, reply: await log.hit(key, cost, true) };
            }),
          );
          checkAgainstModel(rules, decisions);
          // And the log never holds more than the longest rule's limit.
          expect(await client.zcard(key)).toBeLessThanOrEqual(limit);
        },
      ),
      // No shrinking: each run takes real time, and the unshrunk counterexample is readable enough.
      { numRuns: 14, endOnFailure: true },
    );
  });
});
