// Refuses a middleware built per request: the one mistake a factory can see for itself.
import { ConfigError } from './errors.js';

/** Stack frames of Express's router dispatching a request (Express 4 and the `router` package of Express 5). */
const ROUTER_FRAME = /[/\\](?:lib[/\\]router|router[/\\]lib)[/\\](?:layer|route|index)\.js/;

/**
 * Refuses a middleware created while Express is dispatching a request: such a middleware would be rebuilt on
 * every request, losing its in-process state and re-registering its scripts. Found by the router's frames
 * on the stack, so it sees synchronous creation inside a handler (the common mistake).
 */
export function assertNotInRequestHandler(where: string): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  if (ROUTER_FRAME.test(stack)) {
    throw new ConfigError(
      'ERR_CREATED_IN_REQUEST_HANDLER',
      `${where} was created inside a request handler. Create it once at app start and reuse it.`,
    );
  }
}
