// Which ioredis major the tests run on: 6 by default, 5 with IOREDIS=5 (the `ioredis5` npm alias).
import { createRequire } from 'node:module';

function major(): '5' | '6' {
  const value = process.env.IOREDIS ?? '6';
  if (value !== '5' && value !== '6') throw new Error(`IOREDIS must be 5 or 6 (got '${value}').`);
  return value;
}

/** Vite aliases that send every `ioredis` import of the code under test to the chosen major. */
export function ioredisAlias(): { find: RegExp; replacement: string }[] {
  return major() === '5' ? [{ find: /^ioredis$/, replacement: 'ioredis5' }] : [];
}

/**
 * Environment for the test workers, inherited by the Node processes tests start (apps run with tsx): on
 * ioredis 5, a resolve hook loaded through NODE_OPTIONS sends their `ioredis` imports to the alias too.
 */
export function ioredisEnv(): Record<string, string> {
  if (major() === '6') return {};
  const hook = new URL('./ioredis5/register.mjs', import.meta.url).href;
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${hook}`.trim() };
}

/** The version of ioredis the code under test imports, e.g. `5.11.1`. */
export function ioredisVersion(): string {
  const require = createRequire(import.meta.url);
  const name = major() === '5' ? 'ioredis5' : 'ioredis';
  return (require(`${name}/package.json`) as { version: string }).version;
}
