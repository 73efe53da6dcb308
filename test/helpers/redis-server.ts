// Starts real redis-server processes for tests: one per run, or dedicated ones a test can kill, pause and restart.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const INSTALL_HINT =
  'Install Redis 6.2+ (Debian/Ubuntu: `apt-get install -y redis-server`, macOS: `brew install redis`) ' +
  'or set REDIS_URL to a Redis the tests may write to.';

/** The redis-server executable on PATH, or undefined. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** A port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** True when something accepts TCP connections on the port. */
export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sends PING over a raw socket and resolves true on +PONG (no client library, no retries). */
export function ping(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export interface RedisServerOptions {
  /** Port to listen on; a free one by default. */
  port?: number;
  /** Extra redis-server arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  /** Data directory; a fresh temporary one by default (removed by `stop()`). */
  dir?: string;
  /** A configuration file, passed before every argument (a Sentinel needs one it can rewrite). */
  configFile?: string;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** The server's process id while it runs. */
  readonly pid: number | undefined;
  /** SIGKILL: the server dies at once, without saving anything. */
  kill(): Promise<void>;
  /** SIGSTOP: the process freezes; connections stay open but nothing is answered. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Starts the server again on the same port and directory (after `kill()` or `stop({ keepDir: true })`). */
  restart(): Promise<void>;
  /** SIGTERM and wait for exit; removes a temporary data directory unless `keepDir`. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

/**
 * Starts a private redis-server (`--save "" --appendonly no` unless `args` override) and resolves once it
 * answers PING. Rejects with the server's own output when it cannot start.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  if (!binary) throw new Error(`redis-server was not found on PATH. ${INSTALL_HINT}`);
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'erk-redis-'));
  const port = options.port ?? (await freePort());
  const args = [
    ...(options.configFile === undefined ? [] : [options.configFile]),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...(options.args ?? []),
  ];

  let child: ChildProcess | undefined;
  let paused = false;

  const launch = async (): Promise<void> => {
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: withoutShiftedClock() });
    child = proc;
    let output = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      proc.once('exit', (code, signal) =>
        reject(
          new Error(`redis-server exited (${signal ?? code}) while starting on port ${port}:\n${output}`),
        ),
      );
      proc.once('error', reject);
    });
    exited.catch(() => {});
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const ready = await Promise.race([ping(port), exited]);
      if (ready) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not answer PING on port ${port} within 10 s:\n${output}`);
  };

  const waitForExit = (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      proc.once('exit', () => resolve());
      if (paused) {
        proc.kill('SIGCONT');
        paused = false;
      }
      proc.kill(signal);
    });
  };

  await launch();

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child?.pid;
    },
    kill: () => waitForExit('SIGKILL'),
    pause() {
      child?.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      child?.kill('SIGCONT');
      paused = false;
    },
    async restart() {
      await waitForExit('SIGKILL');
      await launch();
    },
    async stop({ keepDir = false } = {}) {
      await waitForExit('SIGTERM');
      if (ownDir && !keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The environment without libfaketime: `npm run test:dates` shifts the tests' clock with it, but redis-server
 * (jemalloc) cannot start under it, so Redis keeps the real clock. The shifted days lie ahead of the real one,
 * so absolute expiry times the tests write stay in Redis's future.
 */
function withoutShiftedClock(): NodeJS.ProcessEnv {
  const { LD_PRELOAD, FAKETIME, ...env } = process.env;
  const preload = (LD_PRELOAD ?? '')
    .split(/[:\s]+/)
    .filter((lib) => lib !== '' && !lib.includes('libfaketime'))
    .join(':');
  return preload === '' ? env : { ...env, LD_PRELOAD: preload };
}
