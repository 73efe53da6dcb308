// The shop's Redis key names: everything under one hash tag, so checkout can be one atomic script on Cluster.
export type ShopKeys = ReturnType<typeof shopKeys>;

/**
 * Keys of the shop under `prefix` (default `shop:`). Products, users and orders are the shop's records and
 * have no TTL; carts and idempotency keys expire (see cart.ts and checkout.ts).
 */
export function shopKeys(prefix = 'shop:') {
  const base = `${prefix}{shop}:`;
  return {
    /** Hash: id, name, description, priceCents, stock, category. */
    product: (id: string) => `${base}product:${id}`,
    /** Sorted set of product ids by price (score = priceCents). */
    productsByPrice: `${base}products:by-price`,
    /** Sorted set of product ids by name (score = alphabetical rank). */
    productsByName: `${base}products:by-name`,
    /** Set of product ids per category, and the set of category names. */
    category: (name: string) => `${base}category:${name}`,
    categories: `${base}categories`,
    /** Hash productId → quantity, expiring 24 h after its last change. */
    cart: (cartId: string) => `${base}cart:${cartId}`,
    /** Hash of one order; sorted set of a user's order ids by time. */
    order: (orderId: string) => `${base}order:${orderId}`,
    userOrders: (userId: string) => `${base}orders:user:${userId}`,
    /** Stream of order events (field orderId), read by the order workers' consumer group. */
    orderStream: `${base}orders:stream`,
    /** Stream of order events that failed too many deliveries, with the reason. */
    dead: `${base}orders:dead`,
    /** Stream of confirmation e-mails, one per fulfilled order (the outbox a mailer would send from). */
    emails: `${base}emails`,
    /** String holding the order id created for an idempotency key (24 h). */
    idempotency: (scope: string, key: string) => `${base}idem:${scope}:${key}`,
    /** Hash of a demo user: id, username, name, role, passwordHash. */
    user: (username: string) => `${base}user:${username}`,
    /** Hash of per-day revenue and order counts (field = YYYY-MM-DD). */
    revenue: `${base}revenue`,
    ordersPerDay: `${base}orders:per-day`,
  };
}
