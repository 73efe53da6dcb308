// HTML pages and form posts of the cart, the checkout and the order confirmation.
import { randomUUID } from 'node:crypto';
import { type Request, type RequestHandler, type Response, Router } from 'express';
import { csrfToken } from '../middleware/csrf.js';
import type { RenderPage } from '../render.js';
import { clampNotice } from '../shop/cart.js';
import { viewCart } from '../shop/cart-view.js';
import type { Shop } from '../shop/index.js';
import { cartIdOf, checkoutSession, mayViewOrder, shortageNotice } from '../shop/session-flows.js';
import { InputError, productIdOf, quantityOf } from '../shop/validate.js';
import { cartPage, checkoutPage, orderPage } from '../views/cart.js';
import { errorPage, notFoundPage } from '../views/errors.js';

export interface CartRouteOptions {
  shop: Shop;
  render: RenderPage;
  /** Middlewares in front of POST /checkout (the checkout rate limit). */
  checkoutLimit: RequestHandler[];
  /** Called with the products whose stock changed, so cached pages can be invalidated. */
  onStockChange: (productIds: string[]) => Promise<void>;
}

export function cartPages({ shop, render, checkoutLimit, onStockChange }: CartRouteOptions): Router {
  const router = Router();
  // A form with a bad value gets a page saying what to fix; other errors go to the error handler.
  const form =
    (handler: (req: Request, res: Response) => Promise<void>): RequestHandler =>
    async (req, res) => {
      try {
        await handler(req, res);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        await render(req, res, { title: 'Check your input', body: errorPage(error.message), status: 400 });
      }
    };

  router.get('/cart', async (req, res) => {
    const cart = await viewCart(shop.carts, shop.catalog, cartIdOf(req));
    await render(req, res, { title: 'Your cart', body: cartPage(cart, csrfToken(req)) });
  });

  router.post(
    '/cart/items',
    form(async (req, res) => {
      const productId = productIdOf(req.body.productId);
      const qty = quantityOf(req.body.qty ?? '1');
      const product = await shop.catalog.get(productId);
      if (!product) throw new InputError('invalid_product', 'That product does not exist.');
      const change = await shop.carts.change(cartIdOf(req, true) as string, productId, qty, 'add');
      if (!change) throw new InputError('invalid_product', 'That product does not exist.');
      req.session.flash = clampNotice(change, product.name) ?? `Added ${qty} × ${product.name} to your cart.`;
      res.redirect(303, '/cart');
    }),
  );

  router.post(
    '/cart/items/:productId',
    form(async (req, res) => {
      const productId = productIdOf(req.params.productId);
      const qty = quantityOf(req.body.qty, 0);
      const change = await shop.carts.change(cartIdOf(req, true) as string, productId, qty, 'set');
      const product = change && change.qty < change.requested && (await shop.catalog.get(productId));
      const notice = change && product ? clampNotice(change, product.name) : undefined;
      if (notice) req.session.flash = notice;
      res.redirect(303, '/cart');
    }),
  );

  router.post(
    '/cart/items/:productId/remove',
    form(async (req, res) => {
      const cartId = cartIdOf(req);
      if (cartId) await shop.carts.remove(cartId, productIdOf(req.params.productId));
      res.redirect(303, '/cart');
    }),
  );

  router.get('/checkout', async (req, res) => {
    const cart = await viewCart(shop.carts, shop.catalog, cartIdOf(req));
    if (cart.items.length === 0) {
      res.redirect(303, '/cart');
      return;
    }
    const body = checkoutPage(cart, csrfToken(req), randomUUID(), req.session.userId !== undefined);
    await render(req, res, { title: 'Checkout', body });
  });

  router.post('/checkout', ...checkoutLimit, async (req, res) => {
    const key = typeof req.body.idempotencyKey === 'string' ? req.body.idempotencyKey : undefined;
    const result = await checkoutSession(req, shop, key, onStockChange);
    switch (result.status) {
      case 'created':
      case 'replayed':
        res.redirect(303, `/orders/${result.orderId}`);
        return;
      case 'out_of_stock':
        req.session.flash = await shortageNotice(shop, result.short);
        res.redirect(303, '/cart');
        return;
      case 'empty':
        res.redirect(303, '/cart');
    }
  });

  router.get('/orders/:id', async (req, res) => {
    const order = await shop.orders.get(String(req.params.id));
    if (!order || !mayViewOrder(req, order)) {
      await render(req, res, { title: 'Not found', body: notFoundPage(), status: 404 });
      return;
    }
    await render(req, res, { title: 'Thank you', body: orderPage(order) });
  });

  return router;
}
