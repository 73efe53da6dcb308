// The `clientSideCaching` option, shared by the middlewares that can serve reads from TrackedReads copies.
import { checkOptions, integerOption, optionError } from '../core/index.js';
import { isCluster, type RedisClient } from './client.js';

/** How one middleware sizes its copies: the option's one field, its default and its largest value. */
export interface CopiesCapacity<Name extends string> {
  readonly name: Name;
  readonly default: number;
  readonly max: number;
}

/**
 * Resolves `clientSideCaching: boolean | { <capacity>?: number }` to the capacity of the copies, or undefined
 * when off. Refused on a Cluster client: tracking would need a pair of connections per master.
 */
export function clientSideCachingOption<Name extends string>(
  value: unknown,
  redis: RedisClient,
  where: string,
  capacity: CopiesCapacity<Name>,
): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value !== true && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw optionError(
      'ERR_OPTION_VALUE',
      where,
      'clientSideCaching',
      `true, false or { ${capacity.name} }`,
      value,
    );
  }
  const given: Partial<Record<Name, unknown>> =
    value === true ? {} : (value as Partial<Record<Name, unknown>>);
  checkOptions<Record<Name, unknown>>(given, [capacity.name], `${where} clientSideCaching`);
  if (isCluster(redis)) {
    throw optionError('ERR_OPTION_VALUE', where, 'clientSideCaching', 'off on a Redis Cluster client', value);
  }
  const size = given[capacity.name];
  return size === undefined
    ? capacity.default
    : integerOption(size, `clientSideCaching.${capacity.name}`, where, 1, capacity.max);
}
