// Redis clients for benchmark variants, configured the way a careful user would in production.
import { Redis } from 'ioredis';
import { createClient } from 'redis';

/** ioredis with auto-pipelining, as the README recommends. */
export function ioredis(url: string): Redis {
  return new Redis(url, { enableAutoPipelining: true, commandTimeout: 2_000 });
}

/** node-redis (connect-redis 9 accepts only this client), connected. */
export async function nodeRedis(url: string) {
  const client = createClient({ url });
  client.on('error', (error) => console.error('node-redis', error));
  await client.connect();
  return client;
}
