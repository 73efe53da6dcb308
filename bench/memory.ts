// The memory table of the benchmark report: MEMORY USAGE of what each middleware stores.
import type { Redis } from 'ioredis';

export async function memoryTable(_redis: Redis): Promise<string> {
  return '| structure | bytes |\n|---|--:|\n| (filled in as the middlewares land) | |';
}
