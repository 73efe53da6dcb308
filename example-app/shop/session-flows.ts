// The session steps several routes share: finding the cart, signing in with a cart merge, placing an order.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request } from 'express';
import type { CheckoutResult, ShortLine } from './checkout.js';
import type { Shop } from './index.js';
import type { User } from './users.js';

/** The session's cart id; with `create`, makes one (and so starts storing the session). */
export function cartIdOf(req: Request, create = false): string | undefined {
  if (req.session.cartId || !create) return req.session.cartId;
  req.session.cartId = req.session.userId ? `user-${req.session.userId}` : `anon-${randomUUID()}`;
  return req.session.cartId;
}

/**
 * Signs the user in: a new session id (the old cookie stops working), the anonymous cart merged into the
 * user's cart in one script, and a fresh CSRF token for the new privilege level.
 */
export async function signInWithCart(req: Request, shop: Shop, user: User): Promise<void> {
  const anonymousCart = req.session.cartId;
  await req.session.signIn(user.id);
  const userCart = `user-${user.id}`;
  if (anonymousCart && anonymousCart !== userCart) await shop.carts.merge(anonymousCart, userCart);
  req.session.cartId = userCart;
  req.session.user = { name: user.name, role: user.role };
  req.session.csrf = randomBytes(24).toString('base64url');
}

/** Runs the checkout for the session's cart and remembers a guest's order so it can see the confirmation. */
export async function checkoutSession(
  req: Request,
  shop: Shop,
  idempotencyKey: string | undefined,
  onStockChange: (productIds: string[]) => Promise<void>,
): Promise<CheckoutResult> {
  const cartId = cartIdOf(req);
  if (!cartId) return { status: 'empty' };
  const result = await shop.checkout.run({
    cartId,
    ...(req.session.userId ? { userId: req.session.userId } : {}),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  });
  if (result.status === 'created') {
    await onStockChange(result.productIds);
  }
  if (result.status === 'created' || result.status === 'replayed') {
    const orders = req.session.orders ?? [];
    if (!orders.includes(result.orderId)) req.session.orders = [...orders, result.orderId].slice(-20);
  }
  return result;
}

/** Whether this session may see an order: its own user's, or one it placed as a guest. */
export function mayViewOrder(req: Request, order: { id: string; userId: string }): boolean {
  if (order.userId && order.userId === req.session.userId) return true;
  return (req.session.orders ?? []).includes(order.id);
}

/** Checkout's refusal for lines the stock cannot cover: each product by name, with how many are left. */
export async function shortageNotice(shop: Shop, short: readonly ShortLine[]): Promise<string> {
  const products = await shop.catalog.getMany(short.map((line) => line.productId));
  const parts = short.map((line, i) => {
    const name = products[i]?.name ?? `Product ${line.productId}`;
    return `${name} (${line.left === 0 ? 'sold out' : `only ${line.left} left`})`;
  });
  return `Not enough in stock: ${parts.join(', ')}. Nothing was ordered: lower the quantities and try again.`;
}
