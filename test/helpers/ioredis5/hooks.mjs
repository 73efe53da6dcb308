// Module resolve hook: `ioredis` resolves to the `ioredis5` npm alias, so child processes test ioredis 5 too.
export function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier === 'ioredis' ? 'ioredis5' : specifier, context);
}
