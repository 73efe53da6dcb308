// The page frame every shop page shares: header with cart and account links, flash message, footer.
import { html, type SafeHtml } from './html.js';

export interface PageContext {
  /** The signed-in user, if any. */
  user?: { name: string; role: 'customer' | 'admin' } | undefined;
  /** Items in the cart, for the header badge. */
  cartCount: number;
  /** The session's CSRF token ('' for a visitor without a session). */
  csrf: string;
  /** Markup a middleware adds to every page (the page-view script). */
  tracking?: SafeHtml | undefined;
  flash?: string | undefined;
}

export function layout(page: PageContext, title: string, body: SafeHtml): SafeHtml {
  const { user, cartCount, csrf } = page;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Kettle &amp; Key</title>
<link rel="stylesheet" href="/static/shop.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<header class="top">
  <a class="brand" href="/">Kettle <span>&amp;</span> Key</a>
  <nav>
    <a href="/">Products</a>
    <a href="/cart" class="cart-link">Cart <span class="badge" data-testid="cart-count">${cartCount}</span></a>
    ${
      user
        ? html`<a href="/account/devices">Your devices</a>
    ${user.role === 'admin' ? html`<a href="/admin">Dashboard</a>` : ''}
    <form method="post" action="/signout" class="inline">
      <input type="hidden" name="_csrf" value="${csrf}">
      <button class="link">Sign out ${user.name}</button>
    </form>`
        : html`<a href="/signin">Sign in</a>`
    }
  </nav>
</header>
<main>
${page.flash ? html`<p class="flash" role="status">${page.flash}</p>` : ''}
${body}
</main>
<footer>A demo shop for <a href="https://github.com/">express-redis-kit</a>: sessions, rate limits, caching and page views, all in Redis.</footer>
${page.tracking ?? ''}
</body>
</html>`;
}
