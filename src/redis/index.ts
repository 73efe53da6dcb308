// The shared Redis layer: what talks to Redis, imported by every middleware folder (src/core holds the rest).
export {
  assertRedisClient,
  clientCommandTimeout,
  clientKeyPrefix,
  duplicateClient,
  isCluster,
  type RedisClient,
} from './client.js';
export { type CopiesCapacity, clientSideCachingOption } from './client-side-caching.js';
export {
  DEFAULT_REDIS_TIMEOUT_MS,
  type RedisCaller,
  redisCaller,
  resolveTimeout,
  withDeadline,
} from './deadline.js';
export {
  createErrorReporter,
  type RedisErrorPolicy,
  type RedisErrorReporter,
  RedisTimeoutError,
  RedisUnavailableError,
} from './errors.js';
export { buildKey, hashTag, keyPart, sha256, validatePrefix } from './keys.js';
export {
  BATCH_SIZE,
  type BatchReplies,
  MGET_BUFFERS,
  RETURN_BATCH_REPLIES,
  ScriptBatcher,
} from './script-batch.js';
export {
  defineScript,
  defineVariadicScript,
  type LuaScript,
  registerScript,
  registerVariadicScript,
  type ScriptArg,
  type ScriptRunner,
  type VariadicRunner,
  type VariadicScript,
} from './scripts.js';
export { type Kept, TrackedReads } from './tracked-reads.js';
