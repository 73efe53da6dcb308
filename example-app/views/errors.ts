// Friendly error pages: not found, forbidden, too many requests, and server trouble.
import { html, type SafeHtml } from './html.js';

export function notFoundPage(): SafeHtml {
  return html`<h1>Not found</h1><p>There is nothing here. <a href="/">Back to the shop</a>.</p>`;
}

export function forbiddenPage(reason: string): SafeHtml {
  return html`<h1>Not allowed</h1><p>${reason}</p><p><a href="/">Back to the shop</a></p>`;
}

export function tooManyRequestsPage(retryAfterSeconds: number | undefined): SafeHtml {
  const wait =
    retryAfterSeconds === undefined
      ? 'a little while'
      : retryAfterSeconds < 90
        ? `${retryAfterSeconds} seconds`
        : `${Math.ceil(retryAfterSeconds / 60)} minutes`;
  return html`<h1>Slow down a little</h1>
<p>That was a lot of requests in a short time. Please try again in ${wait}.</p>
<p><a href="/">Back to the shop</a></p>`;
}

/** The documented refusal after five wrong passwords for one account (or too many from one address). */
export function signInLockedMessage(minutes: number): string {
  return `Too many wrong passwords. Sign-in is locked for ${minutes} minute${minutes === 1 ? '' : 's'}; try again later.`;
}

export function signInLockedPage(minutes: number): SafeHtml {
  return html`<h1>Sign-in locked</h1>
<p data-testid="signin-locked">${signInLockedMessage(minutes)}</p>
<p><a href="/">Back to the shop</a></p>`;
}

export function errorPage(message: string): SafeHtml {
  return html`<h1>Something went wrong</h1><p>${message}</p><p><a href="/">Back to the shop</a></p>`;
}
