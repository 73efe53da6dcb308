// The Redis key names of page-view tracking; every key shares one hash tag so one script can write them all.
import { keyPart } from '../redis/index.js';
import { GRANULARITY_CODE, type Granularity } from './periods.js';

/**
 * Builds every key of one middleware instance. All keys are `<prefix>{<tag>}:...` with the same tag, so on
 * Redis Cluster they live in one slot: a flush is one script over many keys, reports can union HyperLogLogs,
 * and the slot is not a hot spot because each app instance writes to it once per flush interval.
 */
export interface PageViewKeys {
  /** `<prefix>{<tag>}:` — what every key starts with. */
  readonly base: string;
  /** Pub/sub channel of live summaries (channels are not keys; no hash tag needed). */
  readonly channel: string;
  /** Hash route → views of one period. */
  views(granularity: Granularity, period: string): string;
  /** HyperLogLog of visitor hashes of one period, for one route or (route undefined) for the whole site. */
  uniques(granularity: Granularity, period: string, route?: string): string;
  /** Hash of time-on-page counters of one period: `<route> n`, `<route> ms`, `<route> b<i>`. */
  time(granularity: Granularity, period: string): string;
  /** Random salt of one period's visitor hashes. */
  salt(granularity: Granularity, period: string): string;
  /** State of one beacon token (`<seq>:<ms>`), which makes every beacon count once. */
  token(nonce: string): string;
  /** Per-minute HyperLogLog of visitors, for the live visitor count. */
  liveVisitors(minute: number): string;
  /** Per-minute hash route → views, for the live top pages. */
  liveViews(minute: number): string;
  /** Marker of an applied flush chunk, so a retried chunk is never counted twice. */
  marker(id: string): string;
  /** Hash of route key → full route name, for routes too long or odd to appear in keys as they are. */
  readonly routeNames: string;
}

/** Derives the keys from the prefix: the tag is the prefix without its trailing separator. */
export function createKeys(prefix: string): PageViewKeys {
  const tag = keyPart(prefix.replace(/[:._-]+$/, '') || prefix);
  const base = `${prefix}{${tag}}:`;
  return {
    base,
    channel: `${prefix}live`,
    views: (g, period) => `${base}${GRANULARITY_CODE[g]}:${period}`,
    uniques: (g, period, route) =>
      route === undefined
        ? `${base}u:${GRANULARITY_CODE[g]}:${period}`
        : `${base}u:${GRANULARITY_CODE[g]}:${period}:${route}`,
    time: (g, period) => `${base}t:${GRANULARITY_CODE[g]}:${period}`,
    salt: (g, period) => `${base}salt:${GRANULARITY_CODE[g]}:${period}`,
    token: (nonce) => `${base}k:${nonce}`,
    liveVisitors: (minute) => `${base}lu:${minute}`,
    liveViews: (minute) => `${base}lv:${minute}`,
    marker: (id) => `${base}f:${id}`,
    routeNames: `${base}routes`,
  };
}
