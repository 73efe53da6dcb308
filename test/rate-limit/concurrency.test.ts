// Behaviour 3: 1,000 concurrent requests over three Express processes sharing one Redis.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { rateLimit } from '../../src/index.js';
import { redisUrl, useTestRedis } from '../helpers/redis.js';

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
    ['node_modules/tsx/dist/cli.mjs', '--conditions=source', 'test/rate-limit/fixtures/limited-server.ts'],
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

describe('behaviour 3: concurrency across processes', () => {
  it(`admits exactly ${LIMIT} of ${REQUESTS} concurrent requests spread over ${INSTANCES} app processes`, async () => {
    const name = 'multi';
    const instances = await Promise.all(Array.from({ length: INSTANCES }, () => startInstance(name)));
    const pids = new Set(instances.map((i) => i.child.pid));
    expect(pids.size).toBe(INSTANCES);

    const responses = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const { port } = instances[i % INSTANCES] as { port: number };
        const res = await fetch(`http://127.0.0.1:${port}/hit`);
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
    expect(await redis.client.zcard(`${prefix}${name}:{127.0.0.1}:60000`)).toBe(LIMIT);

    // On shutdown each process writes its stats; stats() adds them up over all instances.
    await Promise.all(instances.map((i) => stopInstance(i.child)));
    const reader = rateLimit({ redis: redis.client, prefix, name, limit: LIMIT, window: '1m' });
    const stats = await reader.stats();
    expect(stats.allowed).toBe(LIMIT);
    expect(stats.blocked).toBe(REQUESTS - LIMIT);
    expect(stats.topBlocked).toEqual([{ key: '127.0.0.1', blocked: REQUESTS - LIMIT }]);
  }, 60_000);
});
