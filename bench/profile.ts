// `npm run bench:profile [scenario ...]`: CPU profiles (`node --cpu-prof`) of each variant's server under load,
// summarised as the top functions and packages by self time, in µs per request (and, for the build, lines).
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/redis-server.js';
import { profileMarkdown, summariseProfile } from './lib/cpu-profile.js';
import { detectLoadTool, load } from './lib/load.js';
import type { ProcessSample } from './lib/meter.js';
import { startBenchRedis } from './lib/redis.js';
import { startVariantServer } from './lib/server.js';
import { scenarios } from './scenarios/index.js';

const settings = {
  durationSeconds: Number(process.env.BENCH_DURATION ?? 10),
  warmupSeconds: Number(process.env.BENCH_WARMUP ?? 2),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  top: Number(process.env.PROFILE_TOP ?? 15),
  /** V8's sampling interval; finer than Node's default 1 ms so that a few µs per request show up. */
  intervalUs: Number(process.env.PROFILE_INTERVAL_US ?? 250),
  /** Which variants to profile: `ours` (ours and the bare and floor rows next to them) or `all`. */
  variants: process.env.PROFILE_VARIANTS ?? 'all',
  /** Profile the package's build (`dist/`) instead of its source: its functions then have line numbers. */
  built: process.env.PROFILE_BUILT === '1',
};

const pinned = cpus().length >= 2;
const APP_CPU = pinned ? '0' : undefined;
const SIDE_CPU = pinned ? '1' : undefined;
const outDir = fileURLToPath(new URL('./results/profiles/', import.meta.url));

if (settings.built && !existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))) {
  console.error('PROFILE_BUILT=1 profiles the build: run `npm run build` first');
  process.exit(2);
}

const wanted = process.argv.slice(2);
const selected = wanted.length ? scenarios.filter((s) => wanted.includes(s.id)) : scenarios;
if (selected.length === 0) {
  console.error(`unknown scenario; choose from: ${scenarios.map((s) => s.id).join(', ')}`);
  process.exit(2);
}

const tool = await detectLoadTool();
const redis = await startBenchRedis(SIDE_CPU);
const report: string[] = [
  '# CPU profiles',
  '',
  `${new Date().toISOString()}, Node ${process.version}, load by ${tool}, ${settings.connections} connections ` +
    `for ${settings.durationSeconds} s per variant after ${settings.warmupSeconds} s of warm-up, sampled every ` +
    `${settings.intervalUs} µs. Self time is the time a function was on top of the stack during the measured ` +
    'load; µs/req divides it by the requests served then. `(garbage collector)` is GC on the main thread, ' +
    '`(program)` native work V8 does not attribute to a function (parsing HTTP, I/O), `(idle)` waiting.' +
    (settings.built ? ' The servers ran the package as built in `dist/`.' : ''),
];
try {
  for (const scenario of selected) {
    report.push('', `## ${scenario.title}`);
    const variants = scenario.variants.filter((v) => settings.variants === 'all' || v.kind !== 'peer');
    for (const [index, variant] of variants.entries()) {
      // One directory per variant: Node names the files itself, one per thread (tsx's loader runs on a
      // thread of its own), and the main thread's is the one with thread id 0.
      const dir = join(outDir, scenario.id, slug(variant.name));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const server = await startVariantServer({
        scenarioId: scenario.id,
        variant: variant.name,
        port: await freePort(),
        redisUrl: redis.server.url,
        prefix: `profile:${scenario.id}:${index}:`,
        cpus: APP_CPU,
        built: settings.built,
        nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${settings.intervalUs}`],
      });
      let requests = 0;
      let sample: ProcessSample | undefined;
      try {
        const headers = (await scenario.prepare?.(server.url)) ?? {};
        const options = {
          url: `${server.url}${scenario.path}`,
          connections: settings.connections,
          headers,
          rotatingHeader: scenario.rotatingHeader,
          cpus: SIDE_CPU,
        };
        await load(tool, { ...options, durationSeconds: settings.warmupSeconds });
        await server.startSample();
        const result = await load(tool, { ...options, durationSeconds: settings.durationSeconds });
        sample = await server.sample();
        requests = result.requests;
        console.log(`${scenario.id} / ${variant.name}: ${Math.round(result.rps)} req/s`);
      } finally {
        // The profile is written when the server exits.
        await server.stop();
      }
      const name = readdirSync(dir).find((file) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(file));
      if (!name) throw new Error(`no profile of the main thread in ${dir}`);
      if (!sample || requests === 0) throw new Error(`${variant.name} served no requests`);
      report.push(
        '',
        `### ${variant.name}`,
        '',
        `\`${join('bench/results/profiles', scenario.id, slug(variant.name), name)}\` (open it in Chrome DevTools or VS Code for the ` +
          'call tree).',
        '',
        `CPU of the process ${(sample.cpuUs / requests).toFixed(1)} µs/req; the tables count only the samples ` +
          'taken during the measured load.',
        '',
        profileMarkdown(summariseProfile(join(dir, name), sample), settings.top, requests),
      );
    }
  }
} finally {
  await redis.stop();
}
const text = `${report.join('\n')}\n`;
const summaryPath = join(outDir, wanted.length ? `SUMMARY-${wanted.join('-')}.md` : 'SUMMARY.md');
writeFileSync(summaryPath, text);
console.log(`\n${text}\nwritten to ${summaryPath}`);

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
}
