// Renders a page inside the layout with what the header needs: the user, the cart badge and the CSRF token.
import type { Request, Response } from 'express';
import { csrfForPage } from './middleware/csrf.js';
import type { Carts } from './shop/cart.js';
import type { SafeHtml } from './views/html.js';
import { layout } from './views/layout.js';

export interface PageOptions {
  title: string;
  body: SafeHtml;
  status?: number;
}

export type RenderPage = (req: Request, res: Response, page: PageOptions) => Promise<void>;

/** `tracking` returns markup every page ends with (the page-view script), if any. */
export function createRenderer(
  carts: Carts,
  tracking?: (req: Request, res: Response) => SafeHtml,
): RenderPage {
  return async (req, res, { title, body, status = 200 }) => {
    const cartId = req.session.cartId;
    const cartCount = cartId ? await carts.count(cartId) : 0;
    const flash = req.session.flash;
    if (flash !== undefined) delete req.session.flash;
    const markup = layout(
      { user: req.session.user, cartCount, csrf: csrfForPage(req), flash, tracking: tracking?.(req, res) },
      title,
      body,
    );
    res.status(status).type('html').send(markup.value);
  };
}
