// The shop under soak, in a process of its own (started by bench/soak.ts), so its memory is the server's alone.
import { Redis } from 'ioredis';
import { createShopApp } from '../example-app/app.js';

/** What the driver asks over IPC, and what this process answers. */
export type SoakRequest = { type: 'memory' } | { type: 'stop' };
export type SoakReply =
  | { type: 'ready'; port: number }
  | { type: 'memory'; memory: NodeJS.MemoryUsage; delivered: number; problems: string[] };

const SECRET = 'soak-secret-that-is-at-least-32-characters';
const [redisUrl, prefix = 'soak:'] = process.argv.slice(2);
if (!redisUrl || !process.send) {
  console.error('bench/soak-server.ts is started by bench/soak.ts');
  process.exit(2);
}
const send = (reply: SoakReply) => process.send?.(reply);
const gc = (globalThis as { gc?: () => void }).gc;

// The shop's own client settings (example-app/redis.ts).
const redis = new Redis(redisUrl, {
  enableAutoPipelining: true,
  commandTimeout: 2_000,
  maxRetriesPerRequest: 2,
});
redis.on('error', (error) => problems.push(`Redis client: ${error.message}`));
let delivered = 0;
const problems: string[] = [];
// Each shopper has an address of its own; these limits are far above what one shopper sends.
const many = { limit: 5_000, window: '1m' } as const;
const shop = await createShopApp({
  redis,
  sessionSecrets: [SECRET],
  pageViewSecret: SECRET,
  prefix,
  worker: true,
  limits: { signIn: many, checkout: many, api: { ...many, perSecond: 1_000 } },
  log: (line) => {
    if (line.startsWith('e-mail: order')) delivered += 1;
    else if (/error|warning|fail/i.test(line) && problems.length < 50) problems.push(line);
  },
});
const server = shop.app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  send({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
});
server.keepAliveTimeout = 30_000;

process.on('message', (message: SoakRequest) => {
  if (message.type === 'memory') {
    // Twice: the first collection can leave garbage that only a second one frees (weak refs, finalizers).
    gc?.();
    gc?.();
    send({ type: 'memory', memory: process.memoryUsage(), delivered, problems });
  } else if (message.type === 'stop') {
    server.closeAllConnections();
    server.close(async () => {
      await shop.close();
      await redis.quit();
      process.exit(0);
    });
  }
});
