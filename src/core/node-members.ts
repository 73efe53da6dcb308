// Reads of Node's request and response members that skip looking the member up on the object.
import { IncomingMessage, OutgoingMessage } from 'node:http';

/*
 * Why: under Express every request and response has a hidden class of its own (the router stores a new `next`
 * function on each request, the app a new `locals` object on each response). V8 then cannot reuse what it
 * learned from earlier requests, and resolves each member a request reads for the first time in its runtime,
 * walking the prototype chain for inherited ones such as `req.headers` and `res.getHeader`: about 0.7 µs each
 * on a 2-core VM. Calling Node's own getter and method skips that walk. Objects that are not Node's (a test's
 * plain object, another server's response) are read by name.
 */
const headersGetter = Object.getOwnPropertyDescriptor(IncomingMessage.prototype, 'headers')?.get;
const getHeader = OutgoingMessage.prototype.getHeader;

/** `req.headers`. */
export function requestHeaders(req: { headers: IncomingMessage['headers'] }): IncomingMessage['headers'] {
  return headersGetter !== undefined && req instanceof IncomingMessage
    ? (headersGetter.call(req) as IncomingMessage['headers'])
    : req.headers;
}

/** `res.getHeader(name)`. */
export function responseHeader(res: object, name: string): ReturnType<OutgoingMessage['getHeader']> {
  return res instanceof OutgoingMessage
    ? getHeader.call(res, name)
    : (res as Partial<OutgoingMessage>).getHeader?.(name);
}
