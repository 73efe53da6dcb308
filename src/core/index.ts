// What every middleware shares that is not about Redis: options, errors, the logger hook, durations, the request
// checks and the Cookie reader. Nothing here imports from src/redis or from a middleware.
export { AS_SENT, type CookieReading, cookiesOf, cookieValues, readCookieHeader } from './cookie-header.js';
export { type Duration, formatDuration, parseDuration } from './duration.js';
export { ConfigError, type ConfigErrorCode, errorMessage, type UnavailableError } from './errors.js';
export { consoleLogger, type Logger } from './logger.js';
export { member, onFinish, requestHeaders, responseHeader } from './node-members.js';
export {
  checkOptions,
  type DurationRange,
  durationOption,
  functionOption,
  integerOption,
  loggerOption,
  MIN_SECRET_LENGTH,
  nameOption,
  oneOfOption,
  optionError,
  optionNames,
  secretsOption,
  showValue,
} from './options.js';
export { assertNotInRequestHandler } from './request-handler.js';
export { requestHost } from './request-host.js';
export { type RequestValue, requestValue } from './request-values.js';
export { continueEnd, followResponse, hooksOf, type ResponseHooks } from './response-hooks.js';
