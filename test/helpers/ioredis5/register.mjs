// `node --import` this to send the process's `import 'ioredis'` to the ioredis5 alias (set by IOREDIS=5).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
