// Demo users: stored as hashes with scrypt password hashes, checked with a timing-safe compare.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { ShopRedis } from './catalog.js';
import type { ShopKeys } from './keys.js';
import type { UserSeed } from './seed-data.js';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
) => Promise<Buffer>;

export interface User {
  id: string;
  username: string;
  name: string;
  role: 'customer' | 'admin';
}

export class Users {
  constructor(
    private readonly redis: ShopRedis,
    private readonly keys: ShopKeys,
  ) {}

  async load(users: readonly UserSeed[]): Promise<void> {
    for (const user of users) {
      const salt = randomBytes(16);
      const hash = await scrypt(user.password, salt, 32);
      await this.redis.hset(this.keys.user(user.username), {
        id: user.id,
        username: user.username,
        name: user.name,
        role: user.role,
        passwordHash: `${salt.toString('base64')}:${hash.toString('base64')}`,
      });
    }
  }

  async findByUsername(username: string): Promise<User | null> {
    if (!/^[a-z0-9_-]{1,40}$/.test(username)) return null;
    const hash = await this.redis.hgetall(this.keys.user(username));
    return hash.id ? toUser(hash) : null;
  }

  /** The user when the password matches; null otherwise (same work either way, so timing tells nothing). */
  async verify(username: string, password: string): Promise<User | null> {
    const hash = /^[a-z0-9_-]{1,40}$/.test(username)
      ? await this.redis.hgetall(this.keys.user(username))
      : {};
    const [salt, expected] = (hash.passwordHash ?? `${DUMMY_SALT}:${DUMMY_HASH}`).split(':');
    const actual = await scrypt(password.slice(0, 200), Buffer.from(salt ?? '', 'base64'), 32);
    const matches = timingSafeEqual(actual, Buffer.from(expected ?? '', 'base64'));
    return matches && hash.id ? toUser(hash) : null;
  }
}

const DUMMY_SALT = Buffer.alloc(16).toString('base64');
const DUMMY_HASH = Buffer.alloc(32).toString('base64');

function toUser(hash: Record<string, string>): User {
  return {
    id: hash.id ?? '',
    username: hash.username ?? '',
    name: hash.name ?? '',
    role: hash.role === 'admin' ? 'admin' : 'customer',
  };
}
