// The benchmark's private Redis, and the INFO commandstats total used for Redis commands per request.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../../test/helpers/redis-server.js';

export interface BenchRedis {
  server: RedisServer;
  admin: Redis;
  version: string;
  /** Total commands Redis has executed, not counting INFO itself. */
  commandCount(): Promise<number>;
  /** User + system CPU time redis-server has used so far, in µs (from /proc; 0 where there is none). */
  cpuUs(): number;
  stop(): Promise<void>;
}

export async function startBenchRedis(cpus?: string): Promise<BenchRedis> {
  const server = await startRedisServer();
  if (cpus && server.pid)
    execFileSync('taskset', ['-p', '-c', cpus, String(server.pid)], { stdio: 'ignore' });
  const admin = new Redis(server.url);
  const info = await admin.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return {
    server,
    admin,
    version,
    async commandCount() {
      const stats = await admin.info('commandstats');
      let total = 0;
      for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        if (match[1] !== 'info') total += Number(match[2]);
      }
      return total;
    },
    cpuUs: () => processCpuUs(server.pid),
    async stop() {
      admin.disconnect();
      await server.stop();
    },
  };
}

/** A process's user + system CPU time in µs, read from /proc/<pid>/stat (clock ticks of 10 ms on Linux). */
function processCpuUs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // The command name in parentheses may hold spaces: count the fields after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * Counts the commands clients send while `run` executes, through MONITOR: commands a Lua script runs inside
 * Redis are reported with the source "lua" and left out, so this is the number of commands on the wire.
 */
export async function countClientCommands(admin: Redis, run: () => Promise<void>): Promise<number> {
  const monitor = await admin.monitor();
  let count = 0;
  const marker = `bench-probe-${Math.random().toString(36).slice(2)}`;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (args[1] === marker) return done();
    if (source !== 'lua' && args[0]?.toLowerCase() !== 'info') count += 1;
  });
  try {
    await run();
    // MONITOR reports a command after it ran: the marker, sent last, proves every earlier one was seen.
    await admin.echo(marker);
    await finished;
  } finally {
    monitor.disconnect();
  }
  return count;
}
