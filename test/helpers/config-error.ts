// The one way tests read a configuration error: call, and get the ConfigError's code (or undefined if none).
import { ConfigError } from '../../src/core/index.js';

/**
 * Runs `make` and returns the `code` of the ConfigError it throws, or `undefined` when it throws nothing.
 * Anything thrown that is not a ConfigError is rethrown, so a TypeError from a bug cannot pass for a coded error.
 */
export function configErrorCode(make: () => unknown): string | undefined {
  try {
    make();
  } catch (error) {
    if (error instanceof ConfigError) return error.code;
    throw error;
  }
  return undefined;
}
