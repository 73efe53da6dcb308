// The product list and the product page.
import type { Product, ProductSort } from '../shop/catalog.js';
import { formatCents, html, type SafeHtml } from './html.js';
import { productArt } from './product-art.js';

const SORTS: readonly [ProductSort, string][] = [
  ['name', 'Name'],
  ['price-asc', 'Price, low to high'],
  ['price-desc', 'Price, high to low'],
];

function addToCartForm(product: Product, csrf: string): SafeHtml {
  if (product.stock <= 0) return html`<p class="sold-out">Sold out</p>`;
  return html`<form method="post" action="/cart/items" class="add">
    <input type="hidden" name="_csrf" value="${csrf}">
    <input type="hidden" name="productId" value="${product.id}">
    <label>Qty <input type="number" name="qty" value="1" min="1" max="20" required></label>
    <button data-testid="add-${product.id}">Add to cart</button>
  </form>`;
}

function stockNote(product: Product): SafeHtml {
  if (product.stock <= 0) return html`<span class="stock out">Sold out</span>`;
  if (product.stock < 10) return html`<span class="stock low">Only ${product.stock} left</span>`;
  return html`<span class="stock">In stock</span>`;
}

export function productListPage(
  products: Product[],
  categories: string[],
  current: { sort: ProductSort; category?: string | undefined },
  csrf: string,
): SafeHtml {
  return html`<section class="hero">
  <h1>Things for slow mornings</h1>
  <p>Twenty well-made goods. Every price, cart and order lives in Redis.</p>
</section>
<form class="filters" method="get" action="/">
  <label>Category
    <select name="category">
      <option value="">All</option>
      ${categories.map((c) => html`<option value="${c}" ${c === current.category ? 'selected' : ''}>${c}</option>`)}
    </select>
  </label>
  <label>Sort
    <select name="sort">
      ${SORTS.map(([value, label]) => html`<option value="${value}" ${value === current.sort ? 'selected' : ''}>${label}</option>`)}
    </select>
  </label>
  <button>Apply</button>
</form>
<ul class="grid">
  ${products.map(
    (p) => html`<li class="card">
    <a href="/products/${p.id}" tabindex="-1" aria-hidden="true">${productArt(p)}</a>
    <h2><a href="/products/${p.id}">${p.name}</a></h2>
    <p class="price">${formatCents(p.priceCents)} ${stockNote(p)}</p>
    ${addToCartForm(p, csrf)}
  </li>`,
  )}
</ul>`;
}

export function productPage(product: Product, csrf: string): SafeHtml {
  return html`<article class="product">
  ${productArt(product, 'big')}
  <div>
    <p class="crumbs"><a href="/">Products</a> / ${product.category}</p>
    <h1>${product.name}</h1>
    <p class="lead">${product.description}</p>
    <p class="price">${formatCents(product.priceCents)} ${stockNote(product)}</p>
    ${addToCartForm(product, csrf)}
  </div>
</article>`;
}
