// Reference models in plain TypeScript of the bucketed sliding window and GCRA, for the property tests.
import type { LimitReply } from '../../src/rate-limit/limit-script.js';

/** One rule as the models see it (`burst` for GCRA only). */
export interface ModelRule {
  readonly windowMs: number;
  readonly limit: number;
  readonly burst?: number;
}

/** A model decides like its script: `decide(nowUs, cost)` records an admitted request and returns the reply. */
export interface Model {
  decide(nowUs: number, cost: number): LimitReply;
}

/**
 * The bucketed sliding window: per rule, units per bucket of `ceil(window / precision)` µs; a request counts
 * every bucket from the one holding `now - window` up to now, and fits when each rule's count plus its cost
 * stays within the limit.
 */
export function slidingWindowModel(rules: readonly ModelRule[], precision: number): Model {
  const state = rules.map((rule) => ({
    w: rule.windowMs * 1000,
    limit: rule.limit,
    size: Math.ceil((rule.windowMs * 1000) / precision),
    buckets: new Map<number, number>(),
  }));
  return {
    decide(now, cost) {
      const counted = state.map((s) => {
        const first = Math.floor((now - s.w) / s.size);
        const live = [...s.buckets].filter(([b]) => b >= first).sort((x, y) => x[0] - y[0]);
        return { first, live, total: live.reduce((sum, [, n]) => sum + n, 0) };
      });
      const allowed = state.every((s, r) => (counted[r]?.total as number) + cost <= s.limit);
      const added = allowed && cost > 0 ? cost : 0;
      if (added > 0) {
        for (const s of state) {
          const current = Math.floor(now / s.size);
          s.buckets.set(current, (s.buckets.get(current) ?? 0) + cost);
        }
      }
      const remaining: number[] = [];
      const resetMs: number[] = [];
      const retryMs: number[] = [];
      state.forEach((s, r) => {
        const { live, total } = counted[r] as (typeof counted)[number];
        const n = total + added;
        let oldest = live[0]?.[0];
        if (added > 0) oldest = Math.min(oldest ?? Number.POSITIVE_INFINITY, Math.floor(now / s.size));
        remaining.push(Math.max(0, s.limit - n));
        resetMs.push(
          n > 0 ? Math.max(0, Math.ceil((((oldest as number) + 1) * s.size + s.w - now) / 1000)) : 0,
        );
        let retry = 0;
        if (!allowed && total + cost > s.limit) {
          if (cost > s.limit) retry = -1;
          else {
            const need = total + cost - s.limit;
            let freed = 0;
            for (const [b, units] of live) {
              freed += units;
              if (freed >= need) {
                retry = Math.ceil(((b + 1) * s.size + s.w - now) / 1000);
                break;
              }
            }
          }
        }
        retryMs.push(retry);
      });
      return { allowed, nowUs: now, remaining, resetMs, retryMs };
    },
  };
}

/**
 * GCRA: per rule a theoretical arrival time (TAT) in whole µs; each unit moves it by window / limit; a
 * request fits when its units stay within `burst` intervals ahead of now. The same floating-point steps as
 * the script, so the two agree to the microsecond.
 */
export function gcraModel(rules: readonly ModelRule[]): Model {
  const state = rules.map((rule) => {
    const interval = (rule.windowMs * 1000) / rule.limit;
    const burst = rule.burst ?? rule.limit;
    return { interval, burst, tolerance: burst * interval, tat: undefined as number | undefined };
  });
  return {
    decide(now, cost) {
      const ahead = state.map((s) => (s.tat !== undefined && s.tat > now ? s.tat - now : 0));
      const allowed = state.every((s, r) => (ahead[r] as number) + cost * s.interval <= s.tolerance);
      const recorded = allowed && cost > 0;
      const remaining: number[] = [];
      const resetMs: number[] = [];
      const retryMs: number[] = [];
      state.forEach((s, r) => {
        let d = ahead[r] as number;
        let retry = 0;
        if (recorded) {
          d = Math.ceil(d + cost * s.interval);
          s.tat = now + d;
        } else if (!allowed && d + cost * s.interval > s.tolerance) {
          retry = cost > s.burst ? -1 : Math.ceil((d + cost * s.interval - s.tolerance) / 1000);
        }
        remaining.push(Math.max(0, Math.floor((s.tolerance - d) / s.interval + 1e-9)));
        resetMs.push(Math.ceil(d / 1000));
        retryMs.push(retry);
      });
      return { allowed, nowUs: now, remaining, resetMs, retryMs };
    },
  };
}
