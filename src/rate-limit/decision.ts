// The limiter's decision from a script's reply: admitted or not, each rule's state, and the binding rule. Pure.
import type { ScriptReply } from './limit-script.js';
import type { ResolvedRule } from './rule-options.js';
import type { RateLimitInfo, RateLimitRuleState } from './types.js';

/** The rules of a limiter, and the order its script takes them in. */
export interface DecisionRules {
  /** The main rule first, then the extra rules in the order of the options. */
  readonly rules: readonly ResolvedRule[];
  /** Indexes into `rules`, longest window first: the order of the rules in the script's reply. */
  readonly scriptOrder: readonly number[];
}

/**
 * Turns a script's reply into the decision for `key` and `cost`. Each rule's state is reported in the order of
 * the options. The binding rule, which the top-level fields describe, is the refusing rule with the longest wait
 * when the request is refused (the first one on a tie), otherwise the rule with the fewest units left (on a
 * tie, the one that resets last). `remaining` is the smallest of every rule's.
 *
 * Runs once per request: it builds the result's objects and nothing else.
 */
export function decide(reply: ScriptReply, limiter: DecisionRules, key: string, cost: number): RateLimitInfo {
  const { rules, scriptOrder } = limiter;
  const allowed = reply[0] === 1;
  const states: RateLimitRuleState[] = new Array(rules.length);
  for (let s = 0; s < scriptOrder.length; s++) {
    const i = scriptOrder[s] as number;
    states[i] = ruleState(rules[i] as ResolvedRule, reply, s);
  }
  let binding = states[0] as RateLimitRuleState;
  let bindingRetry = 0;
  let remaining = binding.remaining;
  for (let i = 1; i < states.length; i++) {
    const state = states[i] as RateLimitRuleState;
    if (state.remaining < remaining) remaining = state.remaining;
    if (
      allowed &&
      (state.remaining < binding.remaining ||
        (state.remaining === binding.remaining && state.resetMs > binding.resetMs))
    ) {
      binding = state;
    }
  }
  if (!allowed) {
    for (const state of states) {
      const retry = state.retryAfterMs ?? 0;
      if (retry > bindingRetry) {
        binding = state;
        bindingRetry = retry;
      }
    }
  }
  const now = Math.floor(Number(reply[1]) / 1000);
  if (allowed) {
    return {
      name: binding.name,
      limit: binding.limit,
      remaining,
      resetMs: binding.resetMs,
      allowed,
      key,
      cost,
      now,
      rules: states,
    };
  }
  return {
    name: binding.name,
    limit: binding.limit,
    remaining,
    resetMs: binding.resetMs,
    retryAfterMs: bindingRetry,
    allowed,
    key,
    cost,
    now,
    rules: states,
  };
}

/** The state of `rule`, the `position`-th rule of the reply. */
function ruleState(rule: ResolvedRule, reply: ScriptReply, position: number): RateLimitRuleState {
  const at = 2 + 3 * position;
  const remaining = Math.max(0, Number(reply[at]));
  const resetMs = Math.max(0, Number(reply[at + 1]));
  const retry = Number(reply[at + 2]);
  if (retry === 0) {
    return { name: rule.name, limit: rule.limit, windowMs: rule.windowMs, remaining, resetMs };
  }
  return {
    name: rule.name,
    limit: rule.limit,
    windowMs: rule.windowMs,
    remaining,
    resetMs,
    retryAfterMs: retry < 0 ? Number.POSITIVE_INFINITY : retry,
  };
}
