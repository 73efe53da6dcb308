// Drives load over loopback with wrk (when installed) or autocannon, with the same settings for every variant.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon, { type Request as AutocannonRequest } from 'autocannon';
import type { RotatingHeader } from './types.js';

const run = promisify(execFile);

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  headers: Record<string, string>;
  rotatingHeader?: RotatingHeader;
  /** CPU list for the load generator (wrk only), e.g. '1'. */
  cpus?: string;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors and timeouts. */
  errors: number;
  /** Responses outside 2xx/3xx. */
  non2xx: number;
}

export type LoadTool = 'wrk' | 'autocannon';

export async function detectLoadTool(): Promise<LoadTool> {
  try {
    await run('wrk', ['--version']).catch((error: { stdout?: string }) => {
      if (!String(error.stdout ?? '').includes('wrk')) throw error;
    });
    return 'wrk';
  } catch {
    return 'autocannon';
  }
}

export function load(tool: LoadTool, options: LoadOptions): Promise<LoadResult> {
  return tool === 'wrk' ? withWrk(options) : withAutocannon(options);
}

/** Writes wrk's Lua: optional per-request header, and a JSON summary on stdout. */
function wrkScript(rotating: RotatingHeader | undefined): string {
  const request = rotating
    ? `local n = 0
request = function()
  n = n + 1
  wrk.headers["${rotating.name}"] = "${rotating.prefix}" .. (n % ${rotating.count})
  return wrk.format(nil)
end
`
    : '';
  return `${request}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nJSON{"requests":%d,"durationUs":%d,"errors":%d,"non2xx":%d,"p50":%d,"p99":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

async function withWrk(options: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'erk-bench-'));
  const script = join(dir, 'script.lua');
  writeFileSync(script, wrkScript(options.rotatingHeader));
  const args = [
    '-t1',
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    '--timeout',
    '5s',
    '-s',
    script,
    ...Object.entries(options.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    options.url,
  ];
  const command = options.cpus ? 'taskset' : 'wrk';
  const commandArgs = options.cpus ? ['-c', options.cpus, 'wrk', ...args] : args;
  const { stdout } = await run(command, commandArgs, { maxBuffer: 1 << 20 });
  const json = /JSON(\{.*\})/.exec(stdout)?.[1];
  if (!json) throw new Error(`wrk printed no summary:\n${stdout}`);
  const r = JSON.parse(json) as {
    requests: number;
    durationUs: number;
    errors: number;
    non2xx: number;
    p50: number;
    p99: number;
  };
  return {
    requests: r.requests,
    rps: r.requests / (r.durationUs / 1e6),
    p50Ms: r.p50 / 1000,
    p99Ms: r.p99 / 1000,
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

async function withAutocannon(options: LoadOptions): Promise<LoadResult> {
  const rotating = options.rotatingHeader;
  let n = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    headers: options.headers,
    ...(rotating
      ? {
          requests: [
            {
              setupRequest: (request: AutocannonRequest) => {
                n += 1;
                request.headers = {
                  ...request.headers,
                  [rotating.name]: `${rotating.prefix}${n % rotating.count}`,
                };
                return request;
              },
            },
          ],
        }
      : {}),
  });
  return {
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}
