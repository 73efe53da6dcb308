// The shared Redis layer: what every middleware folder imports (and nothing imports from another middleware).
export {
  assertRedisClient,
  clientCommandTimeout,
  clientKeyPrefix,
  duplicateClient,
  isCluster,
  type RedisClient,
} from './client.js';
export {
  DEFAULT_REDIS_TIMEOUT_MS,
  type RedisCaller,
  redisCaller,
  resolveTimeout,
  withDeadline,
} from './deadline.js';
export { type Duration, parseDuration } from './duration.js';
export {
  ConfigError,
  consoleLogger,
  createErrorReporter,
  errorMessage,
  type Logger,
  type RedisErrorPolicy,
  type RedisErrorReporter,
  RedisTimeoutError,
  RedisUnavailableError,
} from './errors.js';
export { buildKey, hashTag, keyPart, sha256, validatePrefix } from './keys.js';
export {
  assertNotInRequestHandler,
  checkOptions,
  functionOption,
  integerOption,
  oneOfOption,
} from './options.js';
export {
  defineScript,
  type LuaScript,
  registerScript,
  type ScriptArg,
  type ScriptRunner,
} from './scripts.js';
