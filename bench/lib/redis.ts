// The benchmark's private Redis, and the INFO commandstats total used for Redis commands per request.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
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
 *
 * MONITOR runs on a plain socket read line by line: ioredis' `monitor()` throws from its socket handler
 * ("Command queue state error") when Redis' `+OK` and the first monitored command arrive in one chunk, which
 * the other servers' background writes (page-view flushes) made happen in a full run.
 */
export async function countClientCommands(admin: Redis, run: () => Promise<void>): Promise<number> {
  const socket = connect(admin.options.port ?? 6379, admin.options.host ?? '127.0.0.1');
  const marker = `bench-probe-${Math.random().toString(36).slice(2)}`;
  let count = 0;
  let pending = '';
  let monitoring: () => void = () => {};
  let markerSeen: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    monitoring = resolve;
  });
  const finished = new Promise<void>((resolve) => {
    markerSeen = resolve;
  });
  const failed = new Promise<never>((_, reject) => socket.once('error', reject));
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\r\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '+OK') monitoring();
      else if (line.includes(marker)) markerSeen();
      else if (line.startsWith('+') && !line.includes(' lua] ') && !/\] "info"/i.test(line)) count += 1;
    }
  });
  socket.write('MONITOR\r\n');
  try {
    await Promise.race([started, failed]);
    await run();
    // MONITOR reports a command after it ran: the marker, sent last, proves every earlier one was seen.
    await admin.echo(marker);
    await Promise.race([finished, failed]);
  } finally {
    socket.destroy();
  }
  return count;
}
