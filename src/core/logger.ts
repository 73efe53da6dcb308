// The logger hook every middleware writes its warnings through.

/**
 * The logger hook. `console` fits, and so do pino or winston loggers. Messages are short sentences; `details`
 * carries structured context such as the middleware name and the error.
 */
export interface Logger {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

/** The default logger: `console`, with the package name in front so the source is obvious. */
export const consoleLogger: Logger = {
  warn: (message, details) => console.warn(`[express-redis-kit] ${message}`, details ?? ''),
  error: (message, details) => console.error(`[express-redis-kit] ${message}`, details ?? ''),
};
