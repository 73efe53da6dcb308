// The benchmark's ratios pair each variant's rounds with the bare Express rounds run in the same minute.
import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../bench/lib/load.js';
import { pairedRatio, resultsTable, summarise } from '../../bench/lib/report.js';
import type { Scenario, Variant } from '../../bench/lib/types.js';

const app = () => {
  throw new Error('not started in this test');
};
const bareVariant: Variant = { name: 'bare express', kind: 'bare', app };
const oursVariant: Variant = { name: 'ours', kind: 'ours', app };

function summary(variant: Variant, rpsByRound: number[]) {
  const rounds: LoadResult[] = rpsByRound.map((rps) => ({
    requests: rps * 5,
    rps,
    p50Ms: 1,
    p99Ms: 2,
    errors: 0,
    non2xx: 0,
  }));
  return summarise(variant, rounds, [], [], 0, 0);
}

describe('bench ratios', () => {
  // Ours was slower than bare Express in two rounds of three, and faster only in round 3, where the machine
  // sped up between the two runs. Each variant's median is its round-3 figure, so a ratio of the medians
  // would say 1.14.
  const bare = summary(bareVariant, [100, 50, 70]);
  const ours = summary(oursVariant, [95, 48, 80]);

  it('is the median of the per-round ratios, not the ratio of the medians', () => {
    expect(ours.rps / bare.rps).toBeCloseTo(80 / 70, 5);
    expect(pairedRatio(ours, bare)).toBeCloseTo(0.96, 5);
  });

  it('checks the goal on the paired ratio', () => {
    const scenario: Scenario = { id: 's', title: 'scenario', path: '/', goal: 0.97, variants: [] };
    const table = resultsTable([{ scenario, rows: [bare, ours] }]);
    expect(table).toContain('| 0.96× |');
    expect(table).toContain('≥ 0.97 × bare ✗');
  });
});
