// 1,000 concurrent requests over three Express processes sharing one Redis, with each algorithm.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RateLimitAlgorithm, rateLimit } from '../../src/index.js';
import { redisUrl, useTestRedis } from '../helpers/redis.js';
import { WINDOWS } from './fixtures/windows.js';

const redis = useTestRedis();
const prefix = redis.prefix('rl:');
const INSTANCES = 3;
const REQUESTS = 1_000;
const LIMIT = 100;

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Starts one app instance as its own Node process and resolves with its port. */
function startInstance(name: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      'node_modules/tsx/dist/cli.mjs',
      '--conditions=@express-redis-kit/source',
      'test/rate-limit/fixtures/limited-server.ts',
    ],
    {
      cwd: process.cwd(),
      env: {
        ...process.env,
        REDIS_URL: redisUrl(),
        RL_PREFIX: prefix,
        RL_NAME: name,
        RL_LIMIT: String(LIMIT),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`instance did not start:\n${output}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const port = /PORT (\d+)/.exec(output)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ port: Number(port), child });
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited (${code}):\n${output}`));
    });
  });
}

function stopInstance(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const ALGORITHMS = Object.keys(WINDOWS) as RateLimitAlgorithm[];
const NAME = 'multi';
const client = '127.0.0.1';

/** What each algorithm keeps in Redis for the client after admitting `LIMIT` units. */
async function recorded(algorithm: RateLimitAlgorithm): Promise<number> {
  const head = `${prefix}${NAME}-${algorithm}:{${client}}`;
  if (algorithm === 'sliding-log') return redis.client.zcard(`${head}:60000`);
  if (algorithm === 'sliding-window') {
    const buckets = Object.values(await redis.client.hgetall(`${head}:60000:sw60`));
    return buckets.reduce((sum, units) => sum + Number(units), 0);
  }
  // GCRA: the TAT is one emission interval ahead of now per admitted unit.
  const [tat, [seconds, micros]] = await Promise.all([
    redis.client.hget(`${head}:3600000:gcra`, '1'),
    redis.client.time(),
  ]);
  const intervalUs = 3_600_000_000 / LIMIT;
  return Math.round((Number(tat) - (Number(seconds) * 1e6 + Number(micros))) / intervalUs);
}

describe('concurrency across processes', () => {
  let instances: { port: number; child: ChildProcess }[] = [];
  beforeAll(async () => {
    instances = await Promise.all(Array.from({ length: INSTANCES }, () => startInstance(NAME)));
    expect(new Set(instances.map((i) => i.child.pid)).size).toBe(INSTANCES);
  }, 60_000);

  it.each(ALGORITHMS)(
    `%s admits exactly ${LIMIT} of ${REQUESTS} concurrent requests spread over ${INSTANCES} app processes`,
    async (algorithm) => {
      const responses = await Promise.all(
        Array.from({ length: REQUESTS }, async (_, i) => {
          const { port } = instances[i % INSTANCES] as { port: number };
          const res = await fetch(`http://127.0.0.1:${port}/hit/${algorithm}`);
          return { status: res.status, body: await res.text(), instance: i % INSTANCES };
        }),
      );
      const admitted = responses.filter((r) => r.status === 200);
      const refused = responses.filter((r) => r.status === 429);
      expect(admitted).toHaveLength(LIMIT);
      expect(refused).toHaveLength(REQUESTS - LIMIT);
      // The limit is shared, not per process: separate limits would have admitted up to LIMIT in each, and
      // every process refused requests. (Which processes admitted the first LIMIT is up to the scheduler.)
      for (let i = 0; i < INSTANCES; i++) {
        expect(refused.some((r) => r.instance === i)).toBe(true);
      }
      expect(await recorded(algorithm)).toBe(LIMIT);
    },
    60_000,
  );

  it('adds up the stats of every instance once they shut down', async () => {
    // On shutdown each process writes its stats; stats() adds them up over all instances.
    await Promise.all(instances.map((i) => stopInstance(i.child)));
    for (const algorithm of ALGORITHMS) {
      const reader = rateLimit({
        redis: redis.client,
        prefix,
        name: `${NAME}-${algorithm}`,
        limit: LIMIT,
        window: WINDOWS[algorithm],
        algorithm,
      });
      const stats = await reader.stats();
      expect(stats.allowed).toBe(LIMIT);
      expect(stats.blocked).toBe(REQUESTS - LIMIT);
      expect(stats.topBlocked).toEqual([{ key: client, blocked: REQUESTS - LIMIT }]);
    }
  }, 60_000);
});
