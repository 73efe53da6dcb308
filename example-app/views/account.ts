// Sign-in page (with the demo accounts) and the "your devices" page.
import { DEMO_USERS } from '../shop/seed-data.js';
import { html, type SafeHtml } from './html.js';

export function signInPage(csrf: string, next: string, error?: string): SafeHtml {
  return html`<h1>Sign in</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/signin" class="stack">
  <input type="hidden" name="_csrf" value="${csrf}">
  <input type="hidden" name="next" value="${next}">
  <label>Username <input name="username" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button data-testid="signin">Sign in</button>
</form>
<aside class="demo">
  <h2>Demo accounts</h2>
  <table>
    <tr><th>Username</th><th>Password</th><th>Role</th></tr>
    ${DEMO_USERS.map((u) => html`<tr><td><code>${u.username}</code></td><td><code>${u.password}</code></td><td>${u.role}</td></tr>`)}
  </table>
  <p>Your cart comes with you when you sign in. Five wrong passwords for one account within 15 minutes lock it until the oldest is 15 minutes old; correct sign-ins never count.</p>
</aside>`;
}

export interface DeviceRow {
  handle: string;
  /** "Chrome 130 on Linux". */
  name: string;
  /** The full user agent, shown on hover. */
  userAgent: string;
  ip: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  current: boolean;
}

/** UTC with its zone until /static/local-time.js rewrites it in the viewer's locale and time zone. */
const when = (ms: number) => {
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}" data-local>${iso.replace('T', ' ').slice(0, 16)} UTC</time>`;
};

export function devicesPage(devices: DeviceRow[], csrf: string): SafeHtml {
  return html`<h1>Your devices</h1>
<p>Every browser signed in to your account. Revoke one you don't recognise; it is signed out on its next request.</p>
<table class="lines devices">
  <thead><tr><th>Device</th><th>IP</th><th>Signed in</th><th>Last seen</th><th>Expires</th><th></th></tr></thead>
  <tbody>
  ${devices.map(
    (d) => html`<tr data-testid="device"${d.current ? html` class="current"` : ''}>
    <td><span data-testid="device-name" title="${d.userAgent}">${d.name}</span>
      ${d.current ? html`<span class="badge" data-testid="this-device">this device</span>` : ''}</td>
    <td data-testid="device-ip">${d.ip}</td><td>${when(d.createdAt)}</td><td>${when(d.lastSeenAt)}</td><td>${when(d.expiresAt)}</td>
    <td>${
      d.current
        ? ''
        : html`<form method="post" action="/account/devices/revoke" class="inline">
        <input type="hidden" name="_csrf" value="${csrf}">
        <input type="hidden" name="handle" value="${d.handle}">
        <button class="link">Revoke</button>
      </form>`
    }</td>
  </tr>`,
  )}
  </tbody>
</table>
<form method="post" action="/account/devices/revoke-all">
  <input type="hidden" name="_csrf" value="${csrf}">
  <button>Sign out all other devices</button>
</form>
<script src="/static/local-time.js" defer></script>`;
}
