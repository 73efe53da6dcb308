// Constants shared by the engine and the fills.

/** The name this cache gives itself in `Cache-Status` (RFC 9211). */
export const CACHE_NAME = 'express-redis-kit';

/** The render's start generation when Redis could not be read: such a render is never stored in Redis. */
export const NO_GENERATION = -2;
