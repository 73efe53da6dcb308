// Reads a V8 .cpuprofile (from `node --cpu-prof`) and sums self time per function and per file or package.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
  /** Samples per source line (1-based) of the node's own code, over the whole profile. */
  positionTicks?: { line: number; ticks: number }[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A function (or a file, or a package) and the time sampled while it was on top of the stack. */
export interface SelfTime {
  name: string;
  selfUs: number;
  /** Share of the profile's sampled time, 0–1. */
  share: number;
}

export interface ProfileSummary {
  /** Sampled time in the profile, µs (includes `(idle)`). */
  totalUs: number;
  /** Time the process was not idle, µs. */
  busyUs: number;
  functions: SelfTime[];
  places: SelfTime[];
  /**
   * The lines of the package's build (`dist/`) by self time. TypeScript run through tsx has no usable lines
   * (see {@link lineOf}), so a profile of the source has none.
   */
  lines: SelfTime[];
}

/** Sums the profile's samples, or only those taken within `window` (monotonic µs, as `ProcessSample` has). */
export function summariseProfile(path: string, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfById = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; the time after it is the next delta.
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const id = samples[i] as number;
    const us = deltas[i + 1] ?? 0;
    selfById.set(id, (selfById.get(id) ?? 0) + Math.max(0, us));
  }
  const functions = new Map<string, number>();
  const places = new Map<string, number>();
  const lines = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfById) {
    const node = byId.get(id);
    if (!node) continue;
    const frame = node.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') idleUs += us;
    const place = placeOf(frame.url, frame.functionName);
    const fn = frame.url
      ? `${frame.functionName || '(anonymous)'} ${shortPath(frame.url)}${lineOf(frame)}`
      : frame.functionName || '(anonymous)';
    functions.set(fn, (functions.get(fn) ?? 0) + us);
    places.set(place, (places.get(place) ?? 0) + us);
    if (place.startsWith('dist/')) addLines(lines, node, us);
  }
  const rank = (map: Map<string, number>): SelfTime[] =>
    [...map]
      .map(([name, selfUs]) => ({ name, selfUs, share: totalUs > 0 ? selfUs / totalUs : 0 }))
      .sort((a, b) => b.selfUs - a.selfUs);
  return {
    totalUs,
    busyUs: totalUs - idleUs,
    functions: rank(functions),
    places: rank(places),
    lines: rank(lines),
  };
}

/**
 * Shares a node's self time (from the samples in the window) among its lines in the proportions of its
 * `positionTicks`, which V8 counts over the whole profile, warm-up included.
 */
function addLines(lines: Map<string, number>, node: ProfileNode, us: number): void {
  const ticks = node.positionTicks ?? [];
  const all = ticks.reduce((sum, tick) => sum + tick.ticks, 0);
  if (all === 0) return;
  const name = node.callFrame.functionName || '(anonymous)';
  for (const tick of ticks) {
    const line = `${shortPath(node.callFrame.url)}:${tick.line} ${name}`;
    lines.set(line, (lines.get(line) ?? 0) + (us * tick.ticks) / all);
  }
}

/** Where a frame's code lives: a package, this project's source, Node's internals, or V8 itself. */
function placeOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return 'node: (internals)';
  const own = /\/(src|dist|bench|test|example-app)\/(.+)$/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  return shortPath(url);
}

/** `:line` for JavaScript; TypeScript run through tsx is profiled as its transpiled text, whose lines differ. */
function lineOf(frame: ProfileNode['callFrame']): string {
  return /\.[cm]?tsx?$/.test(frame.url) ? '' : `:${frame.lineNumber + 1}`;
}

function shortPath(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/(.+)$/.exec(path);
  if (pkg) return pkg[1] as string;
  const own = /\/((?:src|dist|bench|test|example-app)\/.+)$/.exec(path);
  return own ? (own[1] as string) : path;
}

/** Markdown: the top `top` functions and places by self time, as µs per request when `requests` is known. */
export function profileMarkdown(summary: ProfileSummary, top: number, requests?: number): string {
  const perRequest = (us: number) => (requests ? ` | ${(us / requests).toFixed(2)}` : '');
  const head = (what: string) =>
    requests
      ? `| ${what} | self ms | share | µs/req |\n|---|--:|--:|--:|`
      : `| ${what} | self ms | share |\n|---|--:|--:|`;
  const rows = (items: SelfTime[]) =>
    items
      .slice(0, top)
      .map(
        (item) =>
          `| ${item.name.replaceAll('|', '\\|')} | ${(item.selfUs / 1000).toFixed(1)} | ` +
          `${(item.share * 100).toFixed(1)} %${perRequest(item.selfUs)} |`,
      )
      .join('\n');
  const tables = [
    `Sampled ${(summary.totalUs / 1000).toFixed(0)} ms, busy ${(summary.busyUs / 1000).toFixed(0)} ms` +
      (requests ? `, ${requests} requests` : '') +
      '.',
    '',
    head('function (self time)'),
    rows(summary.functions),
    '',
    head('package or file (self time)'),
    rows(summary.places),
  ];
  if (summary.lines.length > 0)
    tables.push('', head('line of this package (self time)'), rows(summary.lines));
  return tables.join('\n');
}
