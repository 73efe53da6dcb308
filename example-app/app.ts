// Builds the shop's Express app from its parts; the server entry (server.ts) supplies Redis and listens.
import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import { healthRoutes } from './routes/health.js';

export interface ShopOptions {
  redis: Redis;
}

export function createShopApp({ redis }: ShopOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(redis));
  return app;
}
