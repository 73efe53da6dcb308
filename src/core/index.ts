// What every middleware shares that is not about Redis: options, errors, the logger hook, durations, the request
// checks and the Cookie reader. Nothing here imports from src/redis or from a middleware.
export { AS_SENT, type CookieReading, cookiesOf, cookieValues, readCookieHeader } from './cookie-header.js';
export { type Duration, parseDuration } from './duration.js';
export { ConfigError, errorMessage } from './errors.js';
export { consoleLogger, type Logger } from './logger.js';
export { checkOptions, functionOption, integerOption, oneOfOption } from './options.js';
export { assertNotInRequestHandler } from './request-handler.js';
export { requestHost } from './request-host.js';
