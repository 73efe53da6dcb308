// The error model shared by every middleware: configuration errors at app start, and the message of anything thrown.

/**
 * Thrown at app start when a middleware is misconfigured. `code` is stable and documented in the README, so
 * tests and error handlers can match on it instead of on the message.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
