// `npm run bench [scenario ...]`: runs every scenario's variants side by side and writes bench/RESULTS.md.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { freePort } from '../test/helpers/redis-server.js';
import { detectLoadTool, type LoadResult, load } from './lib/load.js';
import type { ProcessSample } from './lib/meter.js';
import { countClientCommands, startBenchRedis } from './lib/redis.js';
import { costTable, resultsTable, summarise, type VariantSummary } from './lib/report.js';
import { startVariantServer, type VariantServer } from './lib/server.js';
import type { Scenario } from './lib/types.js';
import { memoryTable } from './memory.js';
import { scenarios } from './scenarios/index.js';

// Five short rounds rather than three long ones, in about the same time: this VM's speed drifts by up to a third
// within seconds, and the median of five interleaved rounds moves less with it than the median of three.
const settings = {
  durationSeconds: Number(process.env.BENCH_DURATION ?? 5),
  warmupSeconds: Number(process.env.BENCH_WARMUP ?? 1),
  rounds: Number(process.env.BENCH_ROUNDS ?? 5),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
};

/** Warm-up of each server before its first measured run: its JIT has not seen the route yet. */
const firstWarmupSeconds = Math.max(settings.warmupSeconds, 3);

/** Requests sent one at a time under MONITOR to count the commands each variant puts on the wire. */
const PROBE_REQUESTS = 200;

// On a machine with 2+ cores the app gets CPU 0 to itself; Redis and the load generator share CPU 1.
const pinned = cpus().length >= 2;
const APP_CPU = pinned ? '0' : undefined;
const SIDE_CPU = pinned ? '1' : undefined;

const wanted = process.argv.slice(2);
const selected = wanted.length ? scenarios.filter((s) => wanted.includes(s.id)) : scenarios;
if (selected.length === 0) {
  console.error(`unknown scenario; choose from: ${scenarios.map((s) => s.id).join(', ')}`);
  process.exit(2);
}

const tool = await detectLoadTool();
const redis = await startBenchRedis(SIDE_CPU);
console.log(
  `Redis ${redis.version}, load by ${tool}, ${settings.connections} connections, ` +
    `${settings.warmupSeconds}s warm-up + ${settings.durationSeconds}s × ${settings.rounds} rounds per variant ` +
    `(${firstWarmupSeconds}s warm-up before the first)`,
);

const results: { scenario: Scenario; rows: VariantSummary[] }[] = [];
try {
  for (const scenario of selected) results.push({ scenario, rows: await runScenario(scenario) });
  const memory = await memoryTable(redis.admin);
  const report = renderReport(resultsTable(results), costTable(results), memory, redis.version, tool);
  console.log(`\n${report}`);
  if (wanted.length === 0) {
    writeFileSync(new URL('./RESULTS.md', import.meta.url), report);
    console.log('\nwritten to bench/RESULTS.md');
  }
} finally {
  await redis.stop();
}

async function runScenario(scenario: Scenario): Promise<VariantSummary[]> {
  console.log(`\n## ${scenario.title}`);
  const servers: VariantServer[] = [];
  try {
    for (const [index, variant] of scenario.variants.entries()) {
      servers.push(
        await startVariantServer({
          scenarioId: scenario.id,
          variant: variant.name,
          port: await freePort(),
          redisUrl: redis.server.url,
          prefix: `bench:${scenario.id}:${index}:`,
          cpus: APP_CPU,
        }),
      );
    }
    const headers = await Promise.all(servers.map((s) => scenario.prepare?.(s.url) ?? Promise.resolve({})));
    const rounds = scenario.variants.map(() => [] as LoadResult[]);
    const samples = scenario.variants.map(() => [] as ProcessSample[]);
    const commands = scenario.variants.map(() => 0);
    const redisCpu = scenario.variants.map(() => [] as number[]);
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order each round so drift of the machine hits every variant alike.
      for (let k = 0; k < scenario.variants.length; k++) {
        const i = (k + round) % scenario.variants.length;
        const options = {
          url: `${servers[i]?.url}${scenario.path}`,
          connections: settings.connections,
          headers: headers[i] ?? {},
          rotatingHeader: scenario.rotatingHeader,
          cpus: SIDE_CPU,
        };
        const server = servers[i] as VariantServer;
        const warmup = round === 0 ? firstWarmupSeconds : settings.warmupSeconds;
        await load(tool, { ...options, durationSeconds: warmup });
        const before = await redis.commandCount();
        const redisCpuBefore = redis.cpuUs();
        await server.startSample();
        const result = await load(tool, { ...options, durationSeconds: settings.durationSeconds });
        const sample = await server.sample();
        redisCpu[i]?.push(redis.cpuUs() - redisCpuBefore);
        commands[i] = (commands[i] ?? 0) + (await redis.commandCount()) - before;
        rounds[i]?.push(result);
        samples[i]?.push(sample);
        console.log(
          `  round ${round + 1} ${scenario.variants[i]?.name}: ${Math.round(result.rps)} req/s, ` +
            `p99 ${result.p99Ms.toFixed(2)} ms${result.non2xx + result.errors ? ` (${result.non2xx} non-2xx, ${result.errors} errors)` : ''}`,
        );
      }
    }
    const wire: number[] = [];
    for (const [i, server] of servers.entries()) {
      wire.push(await probeCommandsOnWire(scenario, server.url, headers[i] ?? {}));
    }
    return scenario.variants.map((variant, i) =>
      summarise(
        variant,
        rounds[i] ?? [],
        samples[i] ?? [],
        redisCpu[i] ?? [],
        commands[i] ?? 0,
        wire[i] ?? 0,
      ),
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** Sends requests one at a time under MONITOR and returns the commands on the wire per request. */
async function probeCommandsOnWire(scenario: Scenario, baseUrl: string, headers: Record<string, string>) {
  const count = await countClientCommands(redis.admin, async () => {
    for (let n = 0; n < PROBE_REQUESTS; n++) {
      const rotating = scenario.rotatingHeader;
      const extra = rotating ? { [rotating.name]: `${rotating.prefix}probe-${n}` } : {};
      const response = await fetch(`${baseUrl}${scenario.path}`, { headers: { ...headers, ...extra } });
      await response.arrayBuffer();
    }
  });
  return count / PROBE_REQUESTS;
}

function renderReport(
  table: string,
  cost: string,
  memory: string,
  redisVersion: string,
  loadTool: string,
): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return [
    '# Benchmark results',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench\`: Node ${process.version}, ` +
      `Redis ${redisVersion}, ${cpus().length} × ${cpu}. Load by ${loadTool} over loopback, ` +
      `${settings.connections} connections, ${settings.warmupSeconds} s warm-up (${firstWarmupSeconds} s ` +
      `before the first) then ${settings.durationSeconds} s measured, ${settings.rounds} interleaved rounds per ` +
      'variant (medians shown)' +
      (pinned ? '; each app pinned to CPU 0, Redis and the load generator to CPU 1.' : '.'),
    '',
    '"× bare Express" is requests/s relative to the same route without middleware, and "ours ÷ this" how many ' +
      "times our throughput is that peer's: each the median over the rounds of the ratio within one round, so " +
      "the machine's drift between rounds cancels out. Round trips/req counts the commands clients sent (MONITOR, over " +
      `${PROBE_REQUESTS} sequential requests after the load); Redis cmds/req is INFO commandstats over the measured ` +
      'runs, which also counts the commands Lua scripts run inside Redis. A "floor" row is a yardstick, not a ' +
      'package: a middleware that makes one Redis script call per request and does nothing else, i.e. the best a ' +
      'Redis-backed check can do on this machine; for page views, which make no Redis call per request, a ' +
      'middleware that only waits for each response to finish, and under it one that only passes each request ' +
      'on (the cost of one more middleware in Express).',
    '',
    table,
    '',
    '## Cost per request',
    '',
    "Measured inside each app's process over the same measured runs as the table above (medians of the rounds). " +
      'CPU is the whole process (main thread and V8 helper threads) per request served; "above bare" and "above ' +
      'the floor" subtract the bare Express and (first) floor rows of the same scenario, so they are the JavaScript a ' +
      'middleware adds (plus, above bare, its Redis round trips). Heap allocated is what V8 allocated per request ' +
      '(growth of the used heap plus what each collection freed; Buffers outside the heap are not counted); time in GC ' +
      'pauses is the share of the measured time the main thread spent collecting. `npm run bench:profile` shows ' +
      'which functions the microseconds go to.',
    '',
    cost,
    '',
    '## Memory per structure (MEMORY USAGE)',
    '',
    memory,
    '',
  ].join('\n');
}
