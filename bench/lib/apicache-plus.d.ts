// Types for the parts of apicache-plus (which ships none) that the cache benchmark uses.
declare module 'apicache-plus' {
  import type { RequestHandler } from 'express';

  interface ApiCacheInstance {
    middleware(duration?: string | number): RequestHandler;
  }
  const apicache: { newInstance(options: Record<string, unknown>): ApiCacheInstance };
  export default apicache;
}
