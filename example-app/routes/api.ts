// The JSON API: the same shop actions as the pages, JSON bodies only, never from another site.
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import { isCrossSite } from '../middleware/csrf.js';
import { type SignInLimit, usernameOf } from '../middleware/sign-in-limit.js';
import { clampNotice } from '../shop/cart.js';
import { viewCart } from '../shop/cart-view.js';
import { InvalidIdempotencyKeyError } from '../shop/checkout.js';
import type { Shop } from '../shop/index.js';
import { cartIdOf, checkoutSession, shortageNotice, signInWithCart } from '../shop/session-flows.js';
import { InputError, productIdOf, quantityOf } from '../shop/validate.js';

export interface ApiOptions {
  shop: Shop;
  /** Middlewares in front of every API route (the API rate limit). */
  limit: RequestHandler[];
  /** The failed-sign-in limits. */
  signInLimit: SignInLimit;
  checkoutLimit: RequestHandler[];
  /** Cache in front of the product reads. */
  productCache: RequestHandler[];
  onStockChange: (productIds: string[]) => Promise<void>;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Refuses cross-site requests and any body that is not JSON. A cross-site page can only send JSON with a
 * CORS preflight, which this API never grants, so together these stop request forgery without tokens.
 */
const jsonOnly: RequestHandler = (req, res, next) => {
  if (!UNSAFE.has(req.method)) return next();
  if (isCrossSite(req))
    return void res
      .status(403)
      .json({ error: 'cross_site', message: 'Cross-site requests are not allowed.' });
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is('application/json')) {
    return void res
      .status(415)
      .json({ error: 'unsupported_media_type', message: 'Send the body as application/json.' });
  }
  next();
};

async function cartJson(shop: Shop, req: Request) {
  const cart = await viewCart(shop.carts, shop.catalog, cartIdOf(req));
  return {
    items: cart.items.map(({ productId, name, qty, priceCents }) => ({ productId, name, qty, priceCents })),
    totalCents: cart.totalCents,
  };
}

function inputError(res: Response, error: unknown): void {
  if (error instanceof InputError) res.status(400).json({ error: error.code, message: error.message });
  else throw error;
}

export function apiRoutes(options: ApiOptions): Router {
  const { shop } = options;
  const router = Router();
  router.use(...options.limit, jsonOnly, express.json({ limit: '4kb' }));

  router.get('/products', ...options.productCache, async (_req, res) => {
    const products = await shop.catalog.list();
    res.json(products.map(({ id, name, priceCents, stock }) => ({ id, name, priceCents, stock })));
  });

  router.get('/products/:id', ...options.productCache, async (req, res) => {
    const product = await shop.catalog.get(String(req.params.id));
    if (!product) return void res.status(404).json({ error: 'not_found', message: 'No such product.' });
    res.json(product);
  });

  router.get('/cart', async (req, res) => {
    res.json(await cartJson(shop, req));
  });

  router.post('/cart/items', async (req, res) => {
    try {
      const productId = productIdOf(req.body?.productId);
      const qty = quantityOf(req.body?.qty);
      const hadCart = req.session.cartId !== undefined;
      const change = await shop.carts.change(cartIdOf(req, true) as string, productId, qty, 'add');
      if (change === null) {
        // Nothing was added: a visitor without a cart gets none, so a refused request stores no session.
        if (!hadCart) delete req.session.cartId;
        return void res.status(404).json({ error: 'not_found', message: 'No such product.' });
      }
      const product = change.qty < change.requested ? await shop.catalog.get(productId) : null;
      const notice = product ? clampNotice(change, product.name) : undefined;
      res.json({ ...(await cartJson(shop, req)), ...(notice ? { notice } : {}) });
    } catch (error) {
      inputError(res, error);
    }
  });

  router.delete('/cart/items/:productId', async (req, res) => {
    try {
      const cartId = cartIdOf(req);
      if (cartId) await shop.carts.remove(cartId, productIdOf(req.params.productId));
      res.json(await cartJson(shop, req));
    } catch (error) {
      inputError(res, error);
    }
  });

  router.post('/checkout', ...options.checkoutLimit, async (req, res) => {
    try {
      const result = await checkoutSession(req, shop, req.get('idempotency-key'), options.onStockChange);
      switch (result.status) {
        case 'created':
          res.status(201).json({ orderId: result.orderId, totalCents: result.totalCents });
          return;
        case 'replayed':
          res
            .status(201)
            .set('Idempotent-Replayed', 'true')
            .json({ orderId: result.orderId, totalCents: result.totalCents });
          return;
        case 'out_of_stock':
          res.status(409).json({
            error: 'out_of_stock',
            message: await shortageNotice(shop, result.short),
            lines: result.short,
          });
          return;
        case 'empty':
          res.status(400).json({ error: 'empty_cart', message: 'The cart is empty.' });
      }
    } catch (error) {
      if (!(error instanceof InvalidIdempotencyKeyError)) throw error;
      res.status(400).json({ error: 'invalid_idempotency_key', message: error.message });
    }
  });

  router.post('/session', options.signInLimit.check, async (req, res) => {
    const user = await shop.users.verify(usernameOf(req), String(req.body?.password ?? ''));
    if (!user) {
      await options.signInLimit.failed(req);
      return void res
        .status(401)
        .json({ error: 'invalid_credentials', message: 'Wrong username or password.' });
    }
    await signInWithCart(req, shop, user);
    res.json({ user: { id: user.id, name: user.name, role: user.role } });
  });

  router.delete('/session', async (req, res) => {
    await req.session.signOut();
    res.status(204).end();
  });

  router.use((_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'No such API route.' });
  });

  return router;
}
