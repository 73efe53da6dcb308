// Constants shared by the request path, the fills and the store.

/** The render's start generation when Redis could not be read: such a render is never stored in Redis. */
export const NO_GENERATION = -2;
