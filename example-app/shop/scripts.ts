// The shop's Lua scripts, defined once per client with defineCommand; every key arrives through KEYS[].

// KEYS: cart, product. ARGV: productId, delta, max, ttlMs. Returns the new quantity, or -1 for no such product.
const CART_ADD = `
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local qty = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
local max = tonumber(ARGV[3])
if qty > max then
  redis.call('HSET', KEYS[1], ARGV[1], max)
  qty = max
elseif qty <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  qty = 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return qty
`;

// KEYS: cart. ARGV: productId, ttlMs. Removes one line and refreshes the cart's expiry.
const CART_REMOVE = `
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return removed
`;

// KEYS: from (anonymous cart), to (user's cart). ARGV: max, ttlMs. Adds every line of `from` to `to`, then
// deletes `from`. Idempotent: a missing `from` changes nothing.
const CART_MERGE = `
local lines = redis.call('HGETALL', KEYS[1])
if #lines == 0 then return 0 end
local max = tonumber(ARGV[1])
for i = 1, #lines, 2 do
  local qty = redis.call('HINCRBY', KEYS[2], lines[i], lines[i + 1])
  if qty > max then redis.call('HSET', KEYS[2], lines[i], max) end
end
redis.call('DEL', KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return #lines / 2
`;

// KEYS: cart, idempotency, order, queue, userOrders, revenue, ordersPerDay, product1..productN.
// ARGV: orderId, userId, createdAtMs, day, idemTtlMs (0 = no idempotency key), then productId, qty pairs
// (the cart as the client read it).
// Checks everything first (Lua cannot roll back), then writes everything: all or nothing.
// Returns {'ok', orderId, totalCents} | {'replay', orderId} | {'empty'} | {'changed'} |
// {'out_of_stock', productId} | {'gone', productId}.
const CHECKOUT = `
local idempotent = ARGV[5] ~= '0'
if idempotent then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {'replay', existing} end
end
local lines = (#ARGV - 5) / 2
if lines == 0 then return {'empty'} end
if redis.call('HLEN', KEYS[1]) ~= lines then return {'changed'} end
local total = 0
local names, prices = {}, {}
for i = 1, lines do
  local id, qty = ARGV[4 + 2 * i], tonumber(ARGV[5 + 2 * i])
  if tonumber(redis.call('HGET', KEYS[1], id)) ~= qty then return {'changed'} end
  local product = KEYS[7 + i]
  local fields = redis.call('HMGET', product, 'stock', 'priceCents', 'name')
  if not fields[1] then return {'gone', id} end
  if tonumber(fields[1]) < qty then return {'out_of_stock', id} end
  prices[i], names[i] = tonumber(fields[2]), fields[3]
  total = total + prices[i] * qty
end
local items = {}
for i = 1, lines do
  local id, qty = ARGV[4 + 2 * i], tonumber(ARGV[5 + 2 * i])
  redis.call('HINCRBY', KEYS[7 + i], 'stock', -qty)
  items[i] = {productId = id, name = names[i], qty = qty, priceCents = prices[i]}
end
redis.call('HSET', KEYS[3], 'id', ARGV[1], 'userId', ARGV[2], 'createdAt', ARGV[3], 'totalCents', total,
  'status', 'pending', 'lines', cjson.encode(items))
redis.call('LPUSH', KEYS[4], ARGV[1])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1]) end
redis.call('HINCRBY', KEYS[6], ARGV[4], total)
redis.call('HINCRBY', KEYS[7], ARGV[4], 1)
redis.call('DEL', KEYS[1])
if idempotent then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5]) end
return {'ok', ARGV[1], tostring(total)}
`;

// KEYS: processing, attempts. ARGV: orderId. Acknowledges a processed order.
const QUEUE_ACK = `
redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

// KEYS: processing, attempts, queue, dead. ARGV: orderId, maxAttempts. A failed delivery goes back to the
// queue, or to the dead-letter list once it has failed maxAttempts times. Returns 'retry' or 'dead'.
const QUEUE_NACK = `
local attempts = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('LREM', KEYS[1], 1, ARGV[1])
if attempts >= tonumber(ARGV[2]) then
  redis.call('LPUSH', KEYS[4], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 'dead'
end
redis.call('LPUSH', KEYS[3], ARGV[1])
return 'retry'
`;

// KEYS: processing, queue. Moves orders a crashed worker left in processing back to the queue.
const QUEUE_RECOVER = `
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'RIGHT') do n = n + 1 end
return n
`;

type Reply = Promise<(string | number)[]>;

export interface ShopCommands {
  shopCartAdd(
    cart: string,
    product: string,
    productId: string,
    delta: number,
    max: number,
    ttl: number,
  ): Promise<number>;
  shopCartRemove(cart: string, productId: string, ttl: number): Promise<number>;
  shopCartMerge(from: string, to: string, max: number, ttl: number): Promise<number>;
  shopCheckout(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Reply;
  shopQueueAck(processing: string, attempts: string, orderId: string): Promise<number>;
  shopQueueNack(
    processing: string,
    attempts: string,
    queue: string,
    dead: string,
    orderId: string,
    max: number,
  ): Promise<string>;
  shopQueueRecover(processing: string, queue: string): Promise<number>;
}

interface Definer {
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void;
}

/** Defines the shop's scripts on the client (once) and returns it typed with them. */
export function shopCommands(redis: Definer): ShopCommands {
  if (!('shopCartAdd' in redis)) {
    redis.defineCommand('shopCartAdd', { numberOfKeys: 2, lua: CART_ADD });
    redis.defineCommand('shopCartRemove', { numberOfKeys: 1, lua: CART_REMOVE });
    redis.defineCommand('shopCartMerge', { numberOfKeys: 2, lua: CART_MERGE });
    // Checkout takes a variable number of keys, passed first on each call.
    redis.defineCommand('shopCheckout', { lua: CHECKOUT });
    redis.defineCommand('shopQueueAck', { numberOfKeys: 2, lua: QUEUE_ACK });
    redis.defineCommand('shopQueueNack', { numberOfKeys: 4, lua: QUEUE_NACK });
    redis.defineCommand('shopQueueRecover', { numberOfKeys: 2, lua: QUEUE_RECOVER });
  }
  return redis as unknown as ShopCommands;
}
