// Test helpers for the rate-limit suites: a small limited app and unique limiter names per test.
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import type { Logger } from '../../src/index.js';
import type { ExpressFactory } from '../helpers/express.js';

/** An app with `GET /r` behind `limiters`, answering the decision as JSON, and an error handler. */
export function limitedApp(express: ExpressFactory, ...limiters: RequestHandler[]): Express {
  const app = express();
  app.get('/r', ...limiters, (req, res) => {
    res.json({ ok: true, rateLimit: req.rateLimit ?? null });
  });
  const onError: ErrorRequestHandler = (error: Error, _req, res, _next) => {
    res.status(500).json({ error: error.message });
  };
  app.use(onError);
  return app;
}

/** Returns a function giving a fresh limiter name on every call, so tests never share counts by accident. */
export function nameSource(base: string): () => string {
  let n = 0;
  return () => {
    n += 1;
    return `${base}-${n}`;
  };
}

/** A logger that remembers what it was told. */
export function memoryLogger(): Logger & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    warn: (message) => {
      warnings.push(message);
    },
    error: (message) => {
      errors.push(message);
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits, if need be, until at least `marginMs` are left before the clock reaches the next multiple of
 * `periodMs`, so that what a test does next falls in one bucket (or one stats minute).
 */
export async function awayFromEdge(periodMs: number, marginMs = 1_000): Promise<void> {
  const into = Date.now() % periodMs;
  if (into > periodMs - marginMs) await sleep(periodMs - into + 10);
}
