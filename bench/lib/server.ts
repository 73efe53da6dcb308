// Starts one variant's Express app in a process of its own (pinned to a CPU when taskset exists).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MeterReply, MeterRequest, ProcessSample } from './meter.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = fileURLToPath(new URL('../server.ts', import.meta.url));

export interface VariantServer {
  readonly url: string;
  /** Starts measuring the server process from inside (CPU, heap allocated, GC); `sample` ends the window. */
  startSample(): Promise<void>;
  sample(): Promise<ProcessSample>;
  stop(): Promise<void>;
}

export interface StartOptions {
  scenarioId: string;
  variant: string;
  port: number;
  redisUrl: string;
  prefix: string;
  /** CPU list for taskset, e.g. '0'. */
  cpus?: string;
  /** Extra Node flags for the server process, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
  /**
   * Load the package's build (`dist/`, from `npm run build`) as an installed copy would, instead of its
   * TypeScript source through tsx. @default false
   */
  built?: boolean;
}

export async function startVariantServer(options: StartOptions): Promise<VariantServer> {
  // tsx as an in-process loader (not its CLI, which runs the script in a second process), so that Node flags
  // and the IPC channel reach the server itself.
  const nodeArgs = [
    '--import',
    'tsx',
    ...(options.built === true ? [] : ['--conditions=@express-redis-kit/source']),
    ...(options.nodeFlags ?? []),
    entry,
    options.scenarioId,
    options.variant,
    String(options.port),
    options.redisUrl,
    options.prefix,
  ];
  const [command, args] = options.cpus
    ? ['taskset', ['-c', options.cpus, process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(command, args as string[], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  await waitForReady(child, `${options.scenarioId}/${options.variant}`);
  return {
    url: `http://127.0.0.1:${options.port}`,
    async startSample() {
      await ask(child, { meter: 'start' });
    },
    async sample() {
      const reply = await ask(child, { meter: 'stop' });
      if (reply.meter !== 'stopped') throw new Error('the server sent no sample');
      return reply.sample;
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function waitForReady(child: ChildProcess, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('READY')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`${label} exited (${code}) before it was ready:\n${output}`)),
    );
    setTimeout(() => reject(new Error(`${label} not ready after 30 s:\n${output}`)), 30_000).unref();
  });
}

function ask(child: ChildProcess, request: MeterRequest): Promise<MeterReply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`the server did not answer '${request.meter}' within 10 s`));
    }, 10_000);
    const onMessage = (message: MeterReply) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.send(request);
  });
}
