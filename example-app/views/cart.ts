// The cart page, the checkout review page and the order confirmation.
import type { CartView } from '../shop/cart-view.js';
import type { Order } from '../shop/orders.js';
import { formatCents, html, type SafeHtml } from './html.js';

export function cartPage(cart: CartView, csrf: string): SafeHtml {
  if (cart.items.length === 0) {
    return html`<h1>Your cart</h1><p class="empty">Your cart is empty. <a href="/">Browse the products</a>.</p>`;
  }
  return html`<h1>Your cart</h1>
<table class="lines">
  <thead><tr><th>Product</th><th>Price</th><th>Quantity</th><th>Subtotal</th><th></th></tr></thead>
  <tbody>
  ${cart.items.map(
    (item) => html`<tr data-testid="line-${item.productId}">
    <td><a href="/products/${item.productId}">${item.name}</a></td>
    <td>${formatCents(item.priceCents)}</td>
    <td>
      <form method="post" action="/cart/items/${item.productId}" class="inline">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="number" name="qty" value="${item.qty}" min="0" max="20" aria-label="Quantity">
        <button class="small">Update</button>
      </form>
    </td>
    <td>${formatCents(item.priceCents * item.qty)}</td>
    <td>
      <form method="post" action="/cart/items/${item.productId}/remove" class="inline">
        <input type="hidden" name="_csrf" value="${csrf}">
        <button class="link">Remove</button>
      </form>
    </td>
  </tr>`,
  )}
  </tbody>
  <tfoot><tr><th colspan="3">Total</th><th data-testid="cart-total">${formatCents(cart.totalCents)}</th><th></th></tr></tfoot>
</table>
<p class="actions"><a class="button" href="/checkout" data-testid="go-checkout">Checkout</a></p>`;
}

export function checkoutPage(
  cart: CartView,
  csrf: string,
  idempotencyKey: string,
  signedIn: boolean,
): SafeHtml {
  return html`<h1>Checkout</h1>
<ul class="summary">
  ${cart.items.map((item) => html`<li>${item.qty} × ${item.name} <span>${formatCents(item.priceCents * item.qty)}</span></li>`)}
</ul>
<p class="total">Total <strong>${formatCents(cart.totalCents)}</strong></p>
${signedIn ? '' : html`<p class="hint">You are checking out as a guest. <a href="/signin?next=/checkout">Sign in</a> to keep the order in your account.</p>`}
<form method="post" action="/checkout">
  <input type="hidden" name="_csrf" value="${csrf}">
  <input type="hidden" name="idempotencyKey" value="${idempotencyKey}">
  <button data-testid="place-order">Place order</button>
</form>`;
}

export function orderPage(order: Order): SafeHtml {
  return html`<h1>Thank you!</h1>
<p class="lead">Order <code data-testid="order-id">${order.id}</code> is ${order.status === 'fulfilled' ? 'confirmed and on its way' : 'received; the confirmation e-mail is on its way'}.</p>
<ul class="summary">
  ${order.lines.map((line) => html`<li>${line.qty} × ${line.name} <span>${formatCents(line.priceCents * line.qty)}</span></li>`)}
</ul>
<p class="total">Total <strong data-testid="order-total">${formatCents(order.totalCents)}</strong></p>
<p><a href="/">Continue shopping</a></p>`;
}
