// HTML pages of the catalog: the product list and product pages (cached by the response cache).
import { type RequestHandler, Router } from 'express';
import { csrfForPage } from '../middleware/csrf.js';
import type { RenderPage } from '../render.js';
import type { ProductSort } from '../shop/catalog.js';
import type { Shop } from '../shop/index.js';
import { productListPage, productPage } from '../views/catalog.js';
import { notFoundPage } from '../views/errors.js';

const SORTS: readonly ProductSort[] = ['name', 'price-asc', 'price-desc'];

/** `cache`: middlewares in front of both pages (the response cache). */
export function catalogPages(shop: Shop, render: RenderPage, cache: RequestHandler[]): Router {
  const router = Router();

  router.get('/', ...cache, async (req, res) => {
    const sort = SORTS.find((s) => s === req.query.sort) ?? 'name';
    const categories = await shop.catalog.categories();
    const category = categories.find((c) => c === req.query.category);
    const products = await shop.catalog.list({ sort, ...(category ? { category } : {}) });
    await render(req, res, {
      title: 'Products',
      body: productListPage(products, categories, { sort, category }, csrfForPage(req)),
    });
  });

  router.get('/products/:id', ...cache, async (req, res) => {
    const product = await shop.catalog.get(String(req.params.id));
    if (!product) {
      await render(req, res, { title: 'Not found', body: notFoundPage(), status: 404 });
      return;
    }
    await render(req, res, { title: product.name, body: productPage(product, csrfForPage(req)) });
  });

  return router;
}
