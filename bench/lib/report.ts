// Turns measurements into the markdown results table (ratios to bare Express and to the peers).
import type { LoadResult } from './load.js';
import type { Scenario, Variant } from './types.js';

export interface VariantSummary {
  variant: Variant;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  commandsPerRequest: number;
  /** Commands sent by clients per request (MONITOR probe): the Redis round trips, before pipelining merges them. */
  wirePerRequest: number;
}

export function summarise(
  variant: Variant,
  rounds: LoadResult[],
  commands: number,
  wirePerRequest: number,
): VariantSummary {
  const requests = rounds.reduce((sum, r) => sum + r.requests, 0);
  return {
    variant,
    rps: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    non2xx: rounds.reduce((sum, r) => sum + r.non2xx, 0),
    commandsPerRequest: requests > 0 ? commands / requests : 0,
    wirePerRequest,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const HEADER =
  '| scenario | variant | req/s | p50 ms | p99 ms | × bare Express | ours ÷ this | round trips/req | Redis cmds/req | target |\n' +
  '|---|---|--:|--:|--:|--:|--:|--:|--:|---|';

/**
 * One markdown table for all scenarios; each of our rows shows the target and whether it was met, and
 * "ours ÷ this" compares each peer with our first row (the default configuration).
 */
export function resultsTable(results: { scenario: Scenario; rows: VariantSummary[] }[]): string {
  const lines = [HEADER];
  for (const { scenario, rows } of results) {
    const bare = rows.find((r) => r.variant.kind === 'bare');
    const ours = rows.find((r) => r.variant.kind === 'ours');
    const peers = rows.filter((r) => r.variant.kind === 'peer');
    rows.forEach((row, index) => {
      const vsBare = bare && row !== bare ? `${(row.rps / bare.rps).toFixed(2)}×` : '';
      const oursVs = ours && row.variant.kind === 'peer' ? `${(ours.rps / row.rps).toFixed(2)}×` : '';
      const flags = row.errors + row.non2xx > 0 ? ` ⚠ ${row.errors} errors, ${row.non2xx} non-2xx` : '';
      lines.push(
        `| ${index === 0 ? scenario.title : ''} | ${row.variant.name}${flags} | ${Math.round(row.rps)} | ` +
          `${row.p50Ms.toFixed(2)} | ${row.p99Ms.toFixed(2)} | ${vsBare} | ${oursVs} | ` +
          `${row.wirePerRequest.toFixed(2)} | ${row.commandsPerRequest.toFixed(3)} | ${row.variant.kind === 'ours' ? targetCell(scenario, row, bare, peers) : ''} |`,
      );
    });
  }
  return lines.join('\n');
}

function targetCell(
  scenario: Scenario,
  ours: VariantSummary,
  bare: VariantSummary | undefined,
  peers: VariantSummary[],
): string {
  const parts: string[] = [];
  if (scenario.target !== undefined && bare) {
    const ratio = ours.rps / bare.rps;
    parts.push(`≥ ${scenario.target} × bare ${ratio >= scenario.target ? '✓' : '✗'}`);
  }
  if (scenario.peerTarget !== undefined && peers.length > 0) {
    const best = Math.max(...peers.map((p) => p.rps));
    parts.push(`≥ ${scenario.peerTarget} × each peer ${ours.rps / best >= scenario.peerTarget ? '✓' : '✗'}`);
  }
  return parts.join(', ');
}
