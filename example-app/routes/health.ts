// GET /healthz: 200 with the Redis round-trip time, 503 when Redis does not answer.
import { Router } from 'express';
import type { Cluster, Redis } from 'ioredis';

export function healthRoutes(redis: Redis | Cluster): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const started = process.hrtime.bigint();
    try {
      await redis.ping();
      const redisRttMs = Number(process.hrtime.bigint() - started) / 1e6;
      res.json({ status: 'ok', redisRttMs: Math.round(redisRttMs * 1000) / 1000 });
    } catch (error) {
      res
        .status(503)
        .json({ status: 'unavailable', error: error instanceof Error ? error.message : String(error) });
    }
  });
  return router;
}
