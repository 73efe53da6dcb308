// A simulated browser for the demo: real HTTP to the shop, a cookie jar, a browser user agent, and the
// page-view script's time-on-page beacon, as a browser would send them.

/** What one request did, for the demo's counters. */
export interface Hit {
  status: number;
  /** True for a page that counts as a page view (an HTML page with the page-view script). */
  pageView: boolean;
}

export class SimulatedBrowser {
  private readonly cookies = new Map<string, string>();
  private openView: { beaconUrl: string; token: string; shownAt: number; dwellMs: number } | undefined;

  constructor(
    private readonly base: string,
    readonly userAgent: string,
    private readonly record: (hit: Hit) => void,
    /** Seconds of simulated reading per real second, so a bounded demo still shows realistic times on page. */
    private readonly timeScale: number,
    /** When the demo ends: reading stops short of it, so the run stays within its time. */
    private readonly deadline: number,
  ) {}

  /** GET a page; sends the previous page's time-on-page beacon first, as leaving a page does. */
  async page(path: string): Promise<{ status: number; html: string; location: string | undefined }> {
    await this.leavePage();
    const response = await this.request('GET', path);
    const html = response.headers.get('content-type')?.includes('text/html') ? await response.text() : '';
    const script = /<script src="(\/_pv\.js\?[^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    this.record({ status: response.status, pageView: script !== undefined });
    if (script) await this.startView(script);
    return { status: response.status, html, location: response.headers.get('location') ?? undefined };
  }

  /** POSTs a form the way a browser submits one, and follows the 303 like a browser (a GET). */
  async submit(path: string, fields: Record<string, string>): Promise<{ status: number; html: string }> {
    await this.leavePage();
    const response = await this.request('POST', path, new URLSearchParams(fields).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    const location = response.headers.get('location');
    if (response.status === 303 && location) {
      this.record({ status: response.status, pageView: false });
      return this.page(location);
    }
    const html = await response.text();
    const script = /<script src="(\/_pv\.js\?[^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    this.record({ status: response.status, pageView: script !== undefined });
    if (script) await this.startView(script);
    return { status: response.status, html };
  }

  /** A JSON API call (same-origin fetch from the shop's pages). */
  async api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const response = await this.request(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? {} : { 'content-type': 'application/json' },
    );
    const json = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
    this.record({ status: response.status, pageView: false });
    return { status: response.status, json };
  }

  /** Leaves the current page: its beacon reports how long it was read. */
  async leavePage(): Promise<void> {
    const view = this.openView;
    if (!view) return;
    this.openView = undefined;
    const ms = Math.round(Math.max(Date.now() - view.shownAt, view.dwellMs) * this.timeScale);
    const response = await this.request('POST', view.beaconUrl, JSON.stringify({ t: view.token, s: 1, ms }), {
      'content-type': 'text/plain;charset=UTF-8',
    });
    this.record({ status: response.status, pageView: false });
  }

  /** Loads the page-view script (which carries the view's beacon token) and starts the reading clock. */
  private async startView(scriptPath: string): Promise<void> {
    const response = await this.request('GET', scriptPath);
    const text = await response.text();
    const call = /\)\((\{"u":"[^"]*","t":"[^"]*"\})\);\s*$/.exec(text)?.[1];
    if (!call) return;
    const { u, t } = JSON.parse(call) as { u: string; t: string };
    this.openView = { beaconUrl: u, token: t, shownAt: Date.now(), dwellMs: 0 };
  }

  /** Marks how long the reader stays on the page (in real time; scaled when the beacon is sent). */
  read(ms: number): Promise<void> {
    if (this.openView) this.openView.dwellMs = ms;
    const wait = Math.max(0, Math.min(ms, this.deadline - Date.now()));
    return new Promise((resolve) => setTimeout(resolve, wait));
  }

  private async request(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const url = new URL(path, this.base);
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        'user-agent': this.userAgent,
        accept: method === 'GET' ? 'text/html,application/xhtml+xml,*/*;q=0.8' : '*/*',
        'accept-language': 'en-GB,en;q=0.9',
        ...(method === 'GET' ? {} : { origin: url.origin }),
        ...(this.cookies.size > 0 ? { cookie: this.cookieHeader() } : {}),
        ...headers,
      },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(10_000),
    });
    for (const line of response.headers.getSetCookie()) this.store(line);
    return response;
  }

  private store(setCookie: string): void {
    const [pair = '', ...attributes] = setCookie.split(';');
    const at = pair.indexOf('=');
    if (at <= 0) return;
    const name = pair.slice(0, at).trim();
    const expired = attributes.some(
      (a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a),
    );
    if (expired) this.cookies.delete(name);
    else this.cookies.set(name, pair.slice(at + 1).trim());
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** The value of a hidden form field in a page (the CSRF token, the idempotency key). */
export function formField(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '';
}
