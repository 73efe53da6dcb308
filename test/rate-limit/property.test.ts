// fast-check properties over random arrival times and costs: each algorithm against a model in plain TypeScript.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createGcra } from '../../src/rate-limit/gcra-script.js';
import type { LimitReply } from '../../src/rate-limit/limit-script.js';
import { createSlidingLog, type LogRule } from '../../src/rate-limit/sliding-log-script.js';
import { bucketMicros, createSlidingWindow } from '../../src/rate-limit/window-script.js';
import { useTestRedis } from '../helpers/redis.js';
import { gcraModel, slidingWindowModel } from './models.js';
import { sleep } from './support.js';

const redis = useTestRedis();
const client = redis.connect();
let run = 0;

interface Decision {
  readonly cost: number;
  /** The order the request was made in. */
  readonly order: number;
  readonly reply: LimitReply;
}

/**
 * Replays the decisions in Redis-time order against a model of the exact sliding window: a request is
 * admitted iff, for every rule, the units admitted in (now - window, now] plus its cost fit the limit.
 * Checks the admission itself, `remaining`, and the exact `retryMs` of every refusing rule.
 */
function checkAgainstModel(rules: readonly LogRule[], decisions: readonly Decision[]): void {
  const admitted: { t: number; cost: number }[] = [];
  // Requests sent in one turn of the event loop are decided in one script call, at one time, in the order
  // they were made: that order breaks ties.
  const ordered = [...decisions].sort((a, b) => a.reply.nowUs - b.reply.nowUs || a.order - b.order);
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

describe('the sliding log against its model', () => {
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
          let made = 0;
          const key = redis.prefix(`rl:prop:{${run}}:${windowMs}`);
          // Each request fires at its own offset, so some overlap in flight, as real traffic does.
          const decisions = await Promise.all(
            arrivals.map(async ({ at, cost }) => {
              await sleep(at);
              const order = made++;
              return { cost, order, reply: await log.hit(key, cost, true) };
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

/** Random rules (a main one and maybe a shorter one) and arrivals, sorted, spread over about three windows. */
const scenario = (maxLimit: number) =>
  fc.record({
    limit: fc.integer({ min: 1, max: maxLimit }),
    windowMs: fc.integer({ min: 50, max: 5_000 }),
    shorter: fc.option(
      fc.record({ limit: fc.integer({ min: 1, max: maxLimit }), share: fc.integer({ min: 2, max: 10 }) }),
    ),
    // Gaps in thousandths of the window: often none or tiny, so requests come in bursts, the traffic
    // that finds the edges between buckets.
    arrivals: fc.array(
      fc.record({
        gap: fc.oneof(
          fc.constant(0),
          fc.integer({ min: 0, max: 20 }),
          fc.integer({ min: 0, max: 400 }),
          fc.integer({ min: 0, max: 1_200 }),
        ),
        cost: fc.integer({ min: 0, max: 4 }),
      }),
      { minLength: 1, maxLength: 60 },
    ),
  });

/** The rules of a scenario, longest window first (the order the scripts take them in). */
function rulesOf(s: { limit: number; windowMs: number; shorter: { limit: number; share: number } | null }) {
  const rules = [{ limit: s.limit, windowMs: s.windowMs }];
  const short = s.shorter ? Math.floor(s.windowMs / s.shorter.share) : 0;
  if (s.shorter && short >= 10) rules.push({ limit: s.shorter.limit, windowMs: short });
  return rules;
}

/**
 * Arrival times in µs, in order: the script receives each one as its explicit time. They start a minute
 * ahead of the real clock, so keys (which expire at an absolute time computed from the decision's time)
 * outlive the run.
 */
function times(arrivals: readonly { gap: number }[], windowMs: number, start: number): number[] {
  let at = start;
  return arrivals.map((a) => {
    at += a.gap * windowMs;
    return at;
  });
}

describe('the bucketed sliding window against its model', () => {
  it('decides like the model, never admits more than a limit in any window, refuses early by at most one bucket', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(12), fc.integer({ min: 1, max: 12 }), async (s, precision) => {
        run += 1;
        const rules = rulesOf(s);
        if (rules.some((r) => r.windowMs < precision)) return;
        const script = createSlidingWindow(client, rules, precision);
        const model = slidingWindowModel(rules, precision);
        const key = redis.prefix(`rl:prop-sw:{${run}}`);
        const at = times(s.arrivals, s.windowMs, (Date.now() + 60_000) * 1000);
        const admitted: { t: number; cost: number }[] = [];
        for (let i = 0; i < at.length; i++) {
          const now = at[i] as number;
          const cost = (s.arrivals[i] as { cost: number }).cost;
          const reply = await script.hitAt(key, cost, true, now);
          expect(reply, `request ${i} at +${now - (at[0] as number)} µs, cost ${cost}`).toEqual(
            model.decide(now, cost),
          );
          if (reply.allowed) admitted.push({ t: now, cost });
          else if (rules.every((r) => cost <= r.limit)) {
            // The stated bound: a refusal is justified by one rule whose window stretched by one bucket
            // (window / precision, rounded up to a µs) already holds too many units for this request.
            const justified = rules.some((r) => {
              const stretch = r.windowMs * 1000 + bucketMicros(r.windowMs, precision);
              const held = admitted.filter((a) => a.t > now - stretch).reduce((sum, a) => sum + a.cost, 0);
              return held + cost > r.limit;
            });
            expect(justified, `refusal at +${now - (at[0] as number)} µs`).toBe(true);
          }
        }
        for (const rule of rules) {
          for (const end of admitted) {
            const held = admitted
              .filter((a) => a.t > end.t - rule.windowMs * 1000 && a.t <= end.t)
              .reduce((sum, a) => sum + a.cost, 0);
            expect(held).toBeLessThanOrEqual(rule.limit);
          }
        }
        // Memory stays within precision + 1 buckets per rule.
        expect(await client.hlen(key)).toBeLessThanOrEqual(rules.length * (precision + 1));
      }),
      { numRuns: 150 },
    );
  });
});

describe('GCRA against its model', () => {
  it('decides like the model request by request, and admits at most burst + t × rate in any interval t', async () => {
    await fc.assert(
      fc.asyncProperty(scenario(20), fc.option(fc.integer({ min: 1, max: 20 })), async (s, burst) => {
        run += 1;
        const rules = rulesOf(s).map((r, i) => ({
          ...r,
          burst: i === 0 && burst !== null ? burst : r.limit,
        }));
        const script = createGcra(client, rules);
        const model = gcraModel(rules);
        const key = redis.prefix(`rl:prop-gcra:{${run}}`);
        const at = times(s.arrivals, s.windowMs, (Date.now() + 60_000) * 1000);
        const admitted: { t: number; cost: number }[] = [];
        for (let i = 0; i < at.length; i++) {
          const now = at[i] as number;
          const cost = (s.arrivals[i] as { cost: number }).cost;
          const reply = await script.hitAt(key, cost, true, now);
          expect(reply, `request ${i} at +${now - (at[0] as number)} µs, cost ${cost}`).toEqual(
            model.decide(now, cost),
          );
          if (reply.allowed && cost > 0) admitted.push({ t: now, cost });
        }
        // The token bucket's guarantee, checked on the admissions themselves, independent of the model.
        for (const rule of rules) {
          for (const from of admitted) {
            for (const to of admitted) {
              if (to.t < from.t) continue;
              const units = admitted
                .filter((a) => a.t >= from.t && a.t <= to.t)
                .reduce((sum, a) => sum + a.cost, 0);
              const bound = rule.burst + ((to.t - from.t) * rule.limit) / (rule.windowMs * 1000);
              expect(units).toBeLessThanOrEqual(bound + 1e-9);
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
