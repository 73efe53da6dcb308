// Which ioredis major the tests run on: 6 by default, 5 with IOREDIS=5 (the `ioredis5` npm alias).
import { createRequire } from 'node:module';

/** Vite aliases that send every `ioredis` import of the code under test to the chosen major. */
export function ioredisAlias(): { find: RegExp; replacement: string }[] {
  const major = process.env.IOREDIS ?? '6';
  if (major === '6') return [];
  if (major === '5') return [{ find: /^ioredis$/, replacement: 'ioredis5' }];
  throw new Error(`IOREDIS must be 5 or 6 (got '${major}').`);
}

/** The version of ioredis the code under test imports, e.g. `5.11.1`. */
export function ioredisVersion(): string {
  const name = process.env.IOREDIS === '5' ? 'ioredis5' : 'ioredis';
  const require = createRequire(import.meta.url);
  return (require(`${name}/package.json`) as { version: string }).version;
}
