// The shape of a benchmark scenario: one route, several variants (bare Express, ours, the peers) built alike.
import type { Express } from 'express';

/** What a variant's app factory receives inside its server process. */
export interface VariantContext {
  /** The benchmark's private Redis. */
  redisUrl: string;
  /** A key prefix unique to this variant, so variants never share state. */
  prefix: string;
}

/** `reference`: a yardstick that is neither ours nor a peer (e.g. the cost of one bare Redis call). */
export type VariantKind = 'bare' | 'ours' | 'peer' | 'reference';

export interface Variant {
  name: string;
  kind: VariantKind;
  /** Builds the Express app (in the server process). */
  app(context: VariantContext): Express | Promise<Express>;
}

/** Per-request variation the load generator applies: a header whose value cycles over `count` values. */
export interface RotatingHeader {
  name: string;
  prefix: string;
  count: number;
}

export interface Scenario {
  /** Short id used on the command line, e.g. `session-read`. */
  id: string;
  /** Row label in the results table. */
  title: string;
  /** The path every variant serves. */
  path: string;
  /** The throughput we aim for, as a minimum ratio of our variant to bare Express, if any. */
  goal?: number;
  /** The minimum ratio we aim for between our variant and the fastest peer, if any. */
  peerGoal?: number;
  variants: Variant[];
  /** Runs once per variant before load (e.g. sign in); returns headers every request sends. */
  prepare?(baseUrl: string): Promise<Record<string, string>>;
  /** A header that changes per request (e.g. a client id for rate limiting). */
  rotatingHeader?: RotatingHeader;
}
