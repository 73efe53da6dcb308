// The published tarball, installed the way users install it, into fresh ESM, CommonJS and TypeScript projects.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSER_UA } from '../helpers/http.js';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

const root = resolve(import.meta.dirname, '../..');
const fixtures = join(import.meta.dirname, 'fixtures');
const work = mkdtempSync(join(tmpdir(), 'erk-pack-'));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (never through a shell), with the output kept for the assertion messages. */
function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Result> {
  return new Promise((done) => {
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

interface Consumer {
  /** The project's directory name, e.g. `esm-express5-ioredis6`. */
  name: string;
  type: 'module' | 'commonjs';
  dependencies: Record<string, string>;
  files: string[];
}

const TYPES = { typescript: '~5.9.3', '@types/node': '^20.19.0' };

const consumers: Consumer[] = [
  {
    name: 'esm-express5-ioredis6',
    type: 'module',
    dependencies: { express: '^5.0.0', ioredis: '^6.0.0' },
    files: ['make-app.cjs', 'server.mjs'],
  },
  {
    name: 'cjs-express4-ioredis5',
    type: 'commonjs',
    dependencies: { express: '^4.21.0', ioredis: '^5.4.0' },
    files: ['make-app.cjs', 'server.cjs'],
  },
  {
    name: 'ts-express5-ioredis6',
    type: 'module',
    dependencies: { express: '^5.0.0', ioredis: '^6.0.0', '@types/express': '^5.0.0', ...TYPES },
    files: ['app.ts', 'wrong-session-type.ts'],
  },
  {
    name: 'ts-express4-ioredis5',
    type: 'module',
    dependencies: { express: '^4.21.0', ioredis: '^5.4.0', '@types/express': '^4.17.21', ...TYPES },
    files: ['app.ts', 'wrong-session-type.ts'],
  },
];

let tarball = '';
let redis: RedisServer;
const installs = new Map<string, Promise<Result>>();

beforeAll(async () => {
  // `npm pack` runs `prepack`, so the tarball carries a fresh dist/ exactly as a publish would.
  const packed = await run('npm', ['pack', '--pack-destination', work, '--silent'], root);
  expect(packed.code, packed.stderr).toBe(0);
  const name = readdirSync(work).find((file) => file.endsWith('.tgz'));
  if (name === undefined) throw new Error(`npm pack left no tarball in ${work}:\n${packed.stdout}`);
  tarball = join(work, name);
  redis = await startRedisServer();
  for (const consumer of consumers) installs.set(consumer.name, install(consumer));
}, 300_000);

afterAll(async () => {
  // Installs a test did not wait for (a failed or filtered run) must end before their directory goes.
  await Promise.allSettled(installs.values());
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Creates the project and installs the tarball next to its peers: no --force, no --legacy-peer-deps. */
function install(consumer: Consumer): Promise<Result> {
  const dir = join(work, consumer.name);
  mkdirSync(dir);
  for (const file of consumer.files) copyFileSync(join(fixtures, file), join(dir, file));
  const manifest = {
    name: consumer.name,
    private: true,
    type: consumer.type,
    dependencies: { 'express-redis-kit': `file:${tarball}`, ...consumer.dependencies },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'],
    dir,
    240_000,
  );
}

async function installed(name: string): Promise<string> {
  const result = await installs.get(name);
  if (result === undefined) throw new Error(`no consumer ${name}`);
  expect(result.code, result.stderr).toBe(0);
  // A peer range that does not admit the consumer's Express or ioredis shows up here first.
  expect(result.stderr).not.toMatch(/ERESOLVE|peer dep|conflicting peer/i);
  return join(work, name);
}

describe('the packed tarball', () => {
  it('passes publint and Are the Types Wrong (an ES module package, so CommonJS resolution is not checked)', async () => {
    const publint = await run('npx', ['--no-install', 'publint', 'run', tarball, '--strict'], root);
    expect(publint.code, publint.stdout + publint.stderr).toBe(0);
    expect(publint.stdout).toContain('All good!');
    const attw = await run(
      'npx',
      ['--no-install', 'attw', tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color'],
      root,
    );
    expect(attw.code, attw.stdout + attw.stderr).toBe(0);
    // attw exits non-zero on any problem the profile checks; the table shows what it checked.
    expect(attw.stdout).toContain('node16 (from ESM): 🟢 (ESM)');
    expect(attw.stdout).toMatch(/^bundler: 🟢/m);
  });

  it('exports no `source` condition (a common monorepo name) and ships dist/', async () => {
    const dir = await installed('esm-express5-ioredis6');
    const manifest = JSON.parse(
      readFileSync(join(dir, 'node_modules/express-redis-kit/package.json'), 'utf8'),
    ) as { exports: Record<string, Record<string, string>> };
    const conditions = Object.keys(manifest.exports['.'] ?? {});
    expect(conditions).not.toContain('source');
    expect(conditions).toEqual(expect.arrayContaining(['types', 'default']));
    const resolved = await run(
      process.execPath,
      ['--conditions=source', '-p', "require.resolve('express-redis-kit')"],
      dir,
    );
    expect(resolved.stdout.trim()).toBe(join(dir, 'node_modules/express-redis-kit/dist/index.js'));
  });
});

describe.each([
  ['esm-express5-ioredis6', 'server.mjs'],
  ['cjs-express4-ioredis5', 'server.cjs'],
])('%s', (name, entry) => {
  it('serves a session, a rate limit, a cached response and a counted page view against real Redis', async () => {
    const dir = await installed(name);
    const db = consumers.findIndex((c) => c.name === name) + 1;
    const app = await start(dir, entry, `${redis.url}/${db}`);
    try {
      const base = app.url;
      const login = await fetch(`${base}/login`, { method: 'POST' });
      expect(login.status).toBe(200);
      const cookie = login.headers.getSetCookie()[0]?.split(';')[0] ?? '';
      expect(cookie).toMatch(/^sid=/);
      expect(await (await fetch(`${base}/me`, { headers: { cookie } })).json()).toEqual({ user: 'ann' });

      const allowed = await fetch(`${base}/api/ping`);
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('ratelimit')).toMatch(/"api";r=0/);
      expect((await fetch(`${base}/api/ping`)).status).toBe(429);

      const first = await fetch(`${base}/products/7`);
      expect(await first.json()).toEqual({ id: '7', renders: 1 });
      const second = await fetch(`${base}/products/7`);
      expect(second.headers.get('cache-status')).toMatch(/hit/);
      expect(await second.json()).toEqual({ id: '7', renders: 1 });

      const page = await fetch(`${base}/`, { headers: { 'user-agent': BROWSER_UA, accept: 'text/html' } });
      expect(await page.text()).toContain('<script src="/_pv.js');
      const views = (await (await fetch(`${base}/views`)).json()) as { route: string; views: number }[];
      expect(views).toEqual([expect.objectContaining({ route: '/', views: 1 })]);
    } finally {
      await app.stop();
    }
    expect(app.exitCode()).toBe(0);
    expect(app.stderr()).not.toMatch(/error/i);
  });
});

describe('TypeScript consumers', () => {
  const WRONG_CART_ID =
    /^wrong-session-type\.ts\(15,\d+\): error TS2322: Type 'number' is not assignable to type 'string'/;

  it.each([
    ['node16', 'node16'],
    ['nodenext', 'nodenext'],
    ['bundler', 'esnext'],
  ])(
    'moduleResolution %s: the sample type-checks, a wrong SessionData type does not (Express 5, ioredis 6)',
    async (resolution, module) => {
      const dir = await installed('ts-express5-ioredis6');
      expect(await typeErrors(dir, resolution, module)).toEqual([expect.stringMatching(WRONG_CART_ID)]);
    },
  );

  it('moduleResolution nodenext: the same with Express 4 and ioredis 5', async () => {
    const dir = await installed('ts-express4-ioredis5');
    expect(await typeErrors(dir, 'nodenext', 'nodenext')).toEqual([expect.stringMatching(WRONG_CART_ID)]);
  });
});

/**
 * Runs tsc on the sample app and on the file with a wrong SessionData type, with a tsconfig for the given
 * resolution, strict, and returns the error lines: the one expected from the wrong file, and any other is a
 * defect. With nodenext every declaration file is checked too (the package's own included; once per consumer
 * is enough, and it is the slow part). ioredis 6.1's declarations import the untyped `redis-errors`, which
 * fails without skipLibCheck in every app; those lines are left out.
 */
async function typeErrors(dir: string, resolution: string, module: string): Promise<string[]> {
  const config = `tsconfig.${resolution}.json`;
  const compilerOptions = {
    target: 'ES2022',
    lib: ['ES2023'],
    module,
    moduleResolution: resolution,
    types: ['node'],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    esModuleInterop: true,
    skipLibCheck: resolution !== 'nodenext',
    noEmit: true,
  };
  writeFileSync(
    join(dir, config),
    JSON.stringify({ compilerOptions, files: ['app.ts', 'wrong-session-type.ts'] }, null, 2),
  );
  const tsc = join(dir, 'node_modules/typescript/bin/tsc');
  const result = await run(process.execPath, [tsc, '-p', config, '--pretty', 'false'], dir);
  const errors = result.stdout.split('\n').filter((line) => /: error TS\d+:/.test(line));
  if (result.code !== 0 && errors.length === 0)
    throw new Error(`tsc failed:\n${result.stdout}${result.stderr}`);
  return errors.filter((line) => !/^node_modules\/ioredis\/built\/.*'redis-errors'/.test(line));
}

interface RunningApp {
  readonly url: string;
  stop(): Promise<void>;
  exitCode(): number | null;
  stderr(): string;
}

/** Starts a consumer's server and resolves once it prints the port it listens on. */
function start(dir: string, entry: string, redisUrl: string): Promise<RunningApp> {
  const child: ChildProcess = spawn(process.execPath, [entry], {
    cwd: dir,
    env: { ...process.env, REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return new Promise((ready, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${entry} did not start within 20 s:\n${stdout}\n${stderr}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${entry} exited with ${code} before listening:\n${stdout}\n${stderr}`));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const port = /listening (\d+)/.exec(stdout)?.[1];
      if (port === undefined) return;
      clearTimeout(timer);
      ready({
        url: `http://127.0.0.1:${port}`,
        stop: async () => {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(killer);
        },
        exitCode: () => child.exitCode,
        stderr: () => stderr,
      });
    });
  });
}
