// A product's picture: its initials on a tile whose colour comes from its id (no image files, no emoji fonts).
import { html, type SafeHtml } from './html.js';

export function productArt(product: { id: string; name: string }, size: 'small' | 'big' = 'small'): SafeHtml {
  const hue = (Number(product.id) * 47) % 360;
  const initials = product.name
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase() ?? '')
    .join('');
  return html`<div class="art ${size}" style="--hue: ${hue}" aria-hidden="true">${initials}</div>`;
}
