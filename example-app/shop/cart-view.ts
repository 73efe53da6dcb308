// A cart joined with the catalog: names and prices always come from Redis, never from the client.
import type { Carts } from './cart.js';
import type { Catalog } from './catalog.js';

export interface CartItem {
  productId: string;
  name: string;
  qty: number;
  priceCents: number;
}

export interface CartView {
  items: CartItem[];
  totalCents: number;
  count: number;
}

export const EMPTY_CART: CartView = { items: [], totalCents: 0, count: 0 };

export async function viewCart(
  carts: Carts,
  catalog: Catalog,
  cartId: string | undefined,
): Promise<CartView> {
  if (!cartId) return EMPTY_CART;
  const lines = await carts.lines(cartId);
  const ids = [...lines.keys()];
  const products = await catalog.getMany(ids);
  const items: CartItem[] = [];
  products.forEach((product, i) => {
    const qty = lines.get(ids[i] ?? '') ?? 0;
    if (product && qty > 0) {
      items.push({
        productId: product.id,
        name: product.name,
        qty,
        priceCents: product.priceCents,
      });
    }
  });
  return {
    items,
    totalCents: items.reduce((sum, item) => sum + item.priceCents * item.qty, 0),
    count: items.reduce((sum, item) => sum + item.qty, 0),
  };
}
