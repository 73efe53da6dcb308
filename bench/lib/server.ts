// Starts one variant's Express app in a process of its own (pinned to a CPU when taskset exists).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsxCli = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));
const entry = fileURLToPath(new URL('../server.ts', import.meta.url));

export interface VariantServer {
  readonly url: string;
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
}

export async function startVariantServer(options: StartOptions): Promise<VariantServer> {
  const nodeArgs = [
    tsxCli,
    '--conditions=source',
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
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForReady(child, `${options.scenarioId}/${options.variant}`);
  return {
    url: `http://127.0.0.1:${options.port}`,
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
