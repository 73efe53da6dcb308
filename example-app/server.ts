// Entry point of the example shop (`npm start`): Redis, the app, the HTTP server and a clean shutdown.
import { createShopApp } from './app.js';
import { connectRedis, RedisUnavailableError } from './redis.js';
import { loadSecrets } from './secrets.js';
import { shopDataDir, shopKeyPrefix, shopPort, shopRedisUrl } from './settings.js';

const port = shopPort();
const redisUrl = shopRedisUrl();
const dataDir = shopDataDir();
const log = (line: string) => console.log(`[shop] ${line}`);

async function main(): Promise<void> {
  const redis = await connectRedis(redisUrl, dataDir, log);
  redis.client.on('error', (error) => log(`Redis error: ${error.message}`));
  const secrets = loadSecrets(dataDir, log);
  const shop = await createShopApp({
    redis: redis.client,
    sessionSecrets: secrets.session,
    pageViewSecret: secrets.pageViews,
    prefix: shopKeyPrefix(),
    log,
  });
  const server = shop.app.listen(port, () =>
    log(`listening on http://localhost:${port} (Redis: ${redis.url})`),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal} received, shutting down`);
    // Idle keep-alive sockets close now; busy ones (and live dashboards) get a few seconds to finish.
    const force = setTimeout(() => server.closeAllConnections(), 3_000);
    force.unref();
    server.close(async () => {
      await shop.close();
      await redis.close();
      log('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof RedisUnavailableError ? `[shop] ${error.message}` : error);
  process.exit(1);
});
