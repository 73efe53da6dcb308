// Turns measurements into the markdown tables: throughput (ratios to bare Express and to the peers) and cost.
import type { LoadResult } from './load.js';
import type { ProcessSample } from './meter.js';
import type { Scenario, Variant } from './types.js';

export interface VariantSummary {
  variant: Variant;
  /** Median requests/s over the rounds. */
  rps: number;
  /** Requests/s of each round, in round order: round k of every variant ran within the same minute. */
  roundRps: number[];
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  commandsPerRequest: number;
  /** Commands sent by clients per request (MONITOR probe): the Redis round trips, before pipelining merges them. */
  wirePerRequest: number;
  /** CPU time of the app's process per request, in µs (median of the rounds). */
  cpuUsPerRequest: number;
  /** V8 heap bytes allocated per request (median of the rounds). */
  allocatedBytesPerRequest: number;
  /** The app's CPU time as a share of the measured window's wall time, 0–1: below 1, the app waited. */
  busyShare: number;
  /** CPU time of redis-server per request, in µs (median of the rounds). */
  redisCpuUsPerRequest: number;
  /** Main-thread GC pauses as a share of the measured window's wall time, 0–1 (median of the rounds). */
  gcShare: number;
}

export function summarise(
  variant: Variant,
  rounds: LoadResult[],
  samples: ProcessSample[],
  redisCpuUs: number[],
  commands: number,
  wirePerRequest: number,
): VariantSummary {
  const requests = rounds.reduce((sum, r) => sum + r.requests, 0);
  return {
    variant,
    rps: median(rounds.map((r) => r.rps)),
    roundRps: rounds.map((r) => r.rps),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    non2xx: rounds.reduce((sum, r) => sum + r.non2xx, 0),
    commandsPerRequest: requests > 0 ? commands / requests : 0,
    wirePerRequest,
    cpuUsPerRequest: median(perRequest(rounds, samples, (s) => s.cpuUs)),
    allocatedBytesPerRequest: median(perRequest(rounds, samples, (s) => s.allocatedBytes)),
    gcShare: median(samples.map((s) => (s.wallUs > 0 ? s.gcUs / s.wallUs : 0))),
    busyShare: median(samples.map((s) => (s.wallUs > 0 ? s.cpuUs / s.wallUs : 0))),
    redisCpuUsPerRequest: median(
      redisCpuUs.map((us, i) => ((rounds[i]?.requests ?? 0) > 0 ? us / (rounds[i]?.requests ?? 1) : 0)),
    ),
  };
}

/** One value per round: a sample's measure divided by the requests of the same round. */
function perRequest(rounds: LoadResult[], samples: ProcessSample[], measure: (s: ProcessSample) => number) {
  return samples.map((sample, i) => {
    const requests = rounds[i]?.requests ?? 0;
    return requests > 0 ? measure(sample) / requests : 0;
  });
}

/**
 * How many times `row`'s throughput is `base`'s: the median, over the rounds, of the two variants' ratio in the
 * same round. Pairing by round cancels the machine's drift between rounds, which moves both variants of a round
 * alike; a ratio of the two medians would compare rounds measured minutes apart.
 */
export function pairedRatio(row: VariantSummary, base: VariantSummary): number {
  const ratios: number[] = [];
  row.roundRps.forEach((rps, round) => {
    const baseRps = base.roundRps[round];
    if (baseRps !== undefined && baseRps > 0) ratios.push(rps / baseRps);
  });
  return ratios.length > 0 ? median(ratios) : row.rps / base.rps;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const HEADER =
  '| scenario | variant | req/s | p50 ms | p99 ms | × bare Express | ours ÷ this | round trips/req | Redis cmds/req | goal |\n' +
  '|---|---|--:|--:|--:|--:|--:|--:|--:|---|';

/**
 * One markdown table for all scenarios; each of our rows shows the goal and whether it was met, and
 * "ours ÷ this" compares each peer with our first row (the default configuration).
 */
export function resultsTable(results: { scenario: Scenario; rows: VariantSummary[] }[]): string {
  const lines = [HEADER];
  for (const { scenario, rows } of results) {
    const bare = rows.find((r) => r.variant.kind === 'bare');
    const ours = rows.find((r) => r.variant.kind === 'ours');
    const peers = rows.filter((r) => r.variant.kind === 'peer');
    rows.forEach((row, index) => {
      const vsBare = bare && row !== bare ? `${pairedRatio(row, bare).toFixed(2)}×` : '';
      const oursVs = ours && row.variant.kind === 'peer' ? `${pairedRatio(ours, row).toFixed(2)}×` : '';
      const flags = row.errors + row.non2xx > 0 ? ` ⚠ ${row.errors} errors, ${row.non2xx} non-2xx` : '';
      lines.push(
        `| ${index === 0 ? scenario.title : ''} | ${row.variant.name}${flags} | ${Math.round(row.rps)} | ` +
          `${row.p50Ms.toFixed(2)} | ${row.p99Ms.toFixed(2)} | ${vsBare} | ${oursVs} | ` +
          `${row.wirePerRequest.toFixed(2)} | ${row.commandsPerRequest.toFixed(3)} | ${row.variant.kind === 'ours' ? goalCell(scenario, row, bare, peers) : ''} |`,
      );
    });
  }
  return lines.join('\n');
}

function goalCell(
  scenario: Scenario,
  ours: VariantSummary,
  bare: VariantSummary | undefined,
  peers: VariantSummary[],
): string {
  const parts: string[] = [];
  if (scenario.goal !== undefined && bare) {
    const ratio = pairedRatio(ours, bare);
    parts.push(`≥ ${scenario.goal} × bare ${ratio >= scenario.goal ? '✓' : '✗'}`);
  }
  if (scenario.peerGoal !== undefined && peers.length > 0) {
    const worst = Math.min(...peers.map((peer) => pairedRatio(ours, peer)));
    parts.push(`≥ ${scenario.peerGoal} × each peer ${worst >= scenario.peerGoal ? '✓' : '✗'}`);
  }
  return parts.join(', ');
}

const COST_HEADER =
  '| scenario | variant | CPU µs/req | above bare | above the floor | app core busy | Redis CPU µs/req | heap KB allocated/req | time in GC pauses |\n' +
  '|---|---|--:|--:|--:|--:|--:|--:|--:|';

/**
 * What each variant costs per request, measured inside its process: CPU µs, and the difference to the bare
 * Express and floor rows of the same scenario (the same run), heap allocated and the share of GC.
 */
export function costTable(results: { scenario: Scenario; rows: VariantSummary[] }[]): string {
  const lines = [COST_HEADER];
  for (const { scenario, rows } of results) {
    const bare = rows.find((r) => r.variant.kind === 'bare');
    const floor = rows.find((r) => r.variant.kind === 'reference');
    rows.forEach((row, index) => {
      const aboveBare = bare && row !== bare ? signedUs(row.cpuUsPerRequest - bare.cpuUsPerRequest) : '';
      const aboveFloor =
        floor && row !== floor && row !== bare ? signedUs(row.cpuUsPerRequest - floor.cpuUsPerRequest) : '';
      lines.push(
        `| ${index === 0 ? scenario.title : ''} | ${row.variant.name} | ${row.cpuUsPerRequest.toFixed(1)} | ` +
          `${aboveBare} | ${aboveFloor} | ${(row.busyShare * 100).toFixed(0)} % | ` +
          `${row.redisCpuUsPerRequest.toFixed(1)} | ${(row.allocatedBytesPerRequest / 1024).toFixed(1)} | ` +
          `${(row.gcShare * 100).toFixed(1)} % |`,
      );
    });
  }
  return lines.join('\n');
}

function signedUs(us: number): string {
  return `${us >= 0 ? '+' : '−'}${Math.abs(us).toFixed(1)}`;
}
