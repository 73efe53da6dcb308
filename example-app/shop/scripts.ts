// The shop's Lua scripts, defined once per client with defineCommand; every key arrives through KEYS[].

// KEYS: cart, product. ARGV: productId, amount, mode ('add' adds amount, which may be negative; 'set' sets
// it), max, ttlMs. The line never holds more than max or than the stock left: it is clamped to that.
// Returns {qty, requested, stock}, or {-1, 0, 0} for no such product.
const CART_CHANGE = `
local stock = redis.call('HGET', KEYS[2], 'stock')
if not stock then return {-1, 0, 0} end
stock = math.max(tonumber(stock), 0)
local requested = tonumber(ARGV[2])
if ARGV[3] == 'add' then requested = requested + tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') end
local qty = math.min(requested, tonumber(ARGV[4]), stock)
if qty > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], qty)
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  qty = 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return {qty, requested, stock}
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

// KEYS: cart, idempotency, order, orderStream, userOrders, revenue, ordersPerDay, product1..productN.
// ARGV: orderId, userId, createdAtMs, day, idemTtlMs (0 = no idempotency key), then productId, qty pairs
// (the cart as the client read it).
// Checks everything first (Lua cannot roll back), then writes everything: all or nothing.
// The order event is added to the order stream in the same script, so no order exists without its event.
// Returns {'ok', orderId, totalCents} | {'replay', orderId} | {'empty'} | {'changed'} |
// {'out_of_stock', productId1, left1, productId2, left2, ...} (every line short of stock; a product that
// no longer exists has 0 left).
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
local short = {'out_of_stock'}
for i = 1, lines do
  local id, qty = ARGV[4 + 2 * i], tonumber(ARGV[5 + 2 * i])
  if tonumber(redis.call('HGET', KEYS[1], id)) ~= qty then return {'changed'} end
  local product = KEYS[7 + i]
  local fields = redis.call('HMGET', product, 'stock', 'priceCents', 'name')
  local stock = tonumber(fields[1] or '0')
  if stock < qty then
    short[#short + 1] = id
    short[#short + 1] = math.max(stock, 0)
  end
  prices[i], names[i] = tonumber(fields[2]), fields[3]
  if prices[i] then total = total + prices[i] * qty end
end
if #short > 1 then return short end
local items = {}
for i = 1, lines do
  local id, qty = ARGV[4 + 2 * i], tonumber(ARGV[5 + 2 * i])
  redis.call('HINCRBY', KEYS[7 + i], 'stock', -qty)
  items[i] = {productId = id, name = names[i], qty = qty, priceCents = prices[i]}
end
redis.call('HSET', KEYS[3], 'id', ARGV[1], 'userId', ARGV[2], 'createdAt', ARGV[3], 'totalCents', total,
  'status', 'pending', 'lines', cjson.encode(items))
redis.call('XADD', KEYS[4], '*', 'orderId', ARGV[1])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1]) end
redis.call('HINCRBY', KEYS[6], ARGV[4], total)
redis.call('HINCRBY', KEYS[7], ARGV[4], 1)
redis.call('DEL', KEYS[1])
if idempotent then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5]) end
return {'ok', ARGV[1], tostring(total)}
`;

// KEYS: order, orderStream, emails. ARGV: group, entryId, orderId, fulfilledAtMs, consumer, email subject,
// email text, emailsMaxLen. Marks the order fulfilled, writes its confirmation e-mail to the e-mail log and
// acknowledges the stream entry, all at once: a worker that dies before this leaves the entry to be
// reclaimed, and a second run for an order fulfilled already only acknowledges. Returns 'done', 'already'
// or 'missing' (no such order: nothing written).
const ORDER_FULFIL = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'fulfilled' then
  redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
  return 'already'
end
redis.call('HSET', KEYS[1], 'status', 'fulfilled', 'fulfilledAt', ARGV[4], 'fulfilledBy', ARGV[5])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'orderId', ARGV[3], 'subject', ARGV[6],
  'text', ARGV[7], 'worker', ARGV[5])
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
return 'done'
`;

// KEYS: orderStream, dead. ARGV: group, consumer, minIdleMs, count, maxDeliveries, deadMaxLen.
// Claims entries other consumers (crashed, or too slow) left unacknowledged for minIdleMs. An entry already
// delivered maxDeliveries times moves to the dead-letter stream instead of being tried again.
// Returns {claimed entries (id, fields) to process, how many moved to the dead-letter stream}.
const ORDER_RECLAIM = `
local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0', 'COUNT', ARGV[4])
local live, dead = {}, 0
for _, entry in ipairs(reply[2]) do
  local id, fields = entry[1], entry[2]
  local info = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  -- XAUTOCLAIM counted this claim as a delivery.
  local deliveries = info[1] and tonumber(info[1][4]) or 0
  if type(fields) ~= 'table' or deliveries > tonumber(ARGV[5]) then
    local add = {'XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'entryId', id, 'deliveries', deliveries - 1}
    if type(fields) == 'table' then
      for i = 1, #fields do add[#add + 1] = fields[i] end
    end
    redis.call(unpack(add))
    redis.call('XACK', KEYS[1], ARGV[1], id)
    dead = dead + 1
  else
    live[#live + 1] = entry
  end
end
return {live, dead}
`;

type Reply = Promise<(string | number)[]>;

export interface ShopCommands {
  shopCartChange(
    cart: string,
    product: string,
    productId: string,
    amount: number,
    mode: 'add' | 'set',
    max: number,
    ttl: number,
  ): Promise<[number, number, number]>;
  shopCartRemove(cart: string, productId: string, ttl: number): Promise<number>;
  shopCartMerge(from: string, to: string, max: number, ttl: number): Promise<number>;
  shopCheckout(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Reply;
  shopOrderFulfil(
    order: string,
    stream: string,
    emails: string,
    ...args: (string | number)[]
  ): Promise<'done' | 'already' | 'missing'>;
  shopOrderReclaim(
    stream: string,
    dead: string,
    ...args: (string | number)[]
  ): Promise<[[string, string[] | null][], number]>;
}

interface Definer {
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void;
}

/** Defines the shop's scripts on the client (once) and returns it typed with them. */
export function shopCommands(redis: Definer): ShopCommands {
  if (!('shopCartChange' in redis)) {
    redis.defineCommand('shopCartChange', { numberOfKeys: 2, lua: CART_CHANGE });
    redis.defineCommand('shopCartRemove', { numberOfKeys: 1, lua: CART_REMOVE });
    redis.defineCommand('shopCartMerge', { numberOfKeys: 2, lua: CART_MERGE });
    // Checkout takes a variable number of keys, passed first on each call.
    redis.defineCommand('shopCheckout', { lua: CHECKOUT });
    redis.defineCommand('shopOrderFulfil', { numberOfKeys: 3, lua: ORDER_FULFIL });
    redis.defineCommand('shopOrderReclaim', { numberOfKeys: 2, lua: ORDER_RECLAIM });
  }
  return redis as unknown as ShopCommands;
}
