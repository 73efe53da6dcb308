// The type of the response methods the cache wraps (writeHead, write, end, the field methods) or calls through.
import type { ServerResponse } from 'node:http';

/** A method of a ServerResponse, called with the response as `this`. */
export type ResponseMethod = (this: ServerResponse, ...args: unknown[]) => unknown;
