// `req.sessionID`, as express-session offers it: one getter on Node's request prototype, installed once.
import { IncomingMessage } from 'node:http';
import { SESSION_ID } from './req-session.js';

/**
 * Makes `req.sessionID` answer `req.session.id`. A getter on the prototype costs a request nothing and follows
 * the id through `regenerate` and `signIn`, on every app and sub-app. Assigning `req.sessionID` (as
 * express-session itself does) stores a plain value on that request, so both can live in one process.
 */
export function installSessionId(): void {
  const proto = IncomingMessage.prototype;
  if (Object.hasOwn(proto, 'sessionID')) return;
  Object.defineProperty(proto, 'sessionID', {
    configurable: true,
    enumerable: false,
    get(this: { session?: { [SESSION_ID]?: () => string } }): string | undefined {
      const session = this.session;
      return typeof session?.[SESSION_ID] === 'function' ? session[SESSION_ID]() : undefined;
    },
    set(this: object, value: unknown) {
      Object.defineProperty(this, 'sessionID', {
        value,
        writable: true,
        configurable: true,
        enumerable: true,
      });
    },
  });
}
