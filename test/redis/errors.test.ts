import { describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../src/core/index.js';
import { createErrorReporter } from '../../src/redis/index.js';

function recordingLogger() {
  const warnings: { message: string; details?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    warn: (message, details) => warnings.push({ message, details }),
    error: () => {},
  };
  return { logger, warnings };
}

describe('createErrorReporter', () => {
  it('logs the first error of each interval and counts the ones it suppressed', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const { logger, warnings } = recordingLogger();
      const report = createErrorReporter(logger, 1_000);
      report(new Error('down'), 'rateLimit(api)');
      report(new Error('down'), 'rateLimit(api)');
      report(new Error('down'), 'rateLimit(api)');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.details).toMatchObject({ source: 'rateLimit(api)', error: 'down' });
      vi.setSystemTime(1_001);
      report('still down', 'rateLimit(api)');
      expect(warnings).toHaveLength(2);
      expect(warnings[1]?.details).toMatchObject({ error: 'still down', suppressed: 2 });
    } finally {
      vi.useRealTimers();
    }
  });
});
