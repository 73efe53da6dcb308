// The browser script that reports visible time on page with navigator.sendBeacon.

/**
 * The client script: a function expression the middleware serves called with `{ u: beaconUrl, t: token }`.
 * It adds up the time the page is visible (the Page Visibility API; hidden tabs do not count) and, when the
 * page is hidden or left (`visibilitychange` → hidden, `pagehide`; never `unload`, which breaks the
 * back/forward cache), sends the total so far with `navigator.sendBeacon` as a `text/plain` Blob: a CORS-safe
 * type, so no preflight. Each beacon carries the next sequence number, so the server adds only what grew
 * since the view's previous beacon and a replayed beacon counts nothing. No cookies, no storage, no globals.
 */
export const CLIENT_SCRIPT = `(function (c) {
  var d = document, w = window, n = navigator;
  if (!n || typeof n.sendBeacon !== 'function' || typeof Blob !== 'function') return;
  var p = w.performance;
  var now = p && typeof p.now === 'function' ? function () { return p.now(); } : function () { return Date.now(); };
  var shown = 0, seq = 0, sent = 0;
  var since = d.visibilityState === 'hidden' ? -1 : now();
  function stop() {
    if (since >= 0) { shown += now() - since; since = -1; }
  }
  function send() {
    stop();
    var ms = Math.round(shown);
    if (ms <= sent) return;
    sent = ms;
    seq += 1;
    try {
      n.sendBeacon(c.u, new Blob([JSON.stringify({ t: c.t, s: seq, ms: ms })], { type: 'text/plain' }));
    } catch (e) {}
  }
  d.addEventListener('visibilitychange', function () {
    if (d.visibilityState === 'hidden') send();
    else if (since < 0) since = now();
  });
  w.addEventListener('pagehide', send);
  w.addEventListener('pageshow', function (e) {
    if (e && e.persisted && since < 0 && d.visibilityState !== 'hidden') since = now();
  });
})`;

/** The script text served to one page view: the client script called with its beacon URL and fresh token. */
export function servedScript(beaconUrl: string, token: string): string {
  return `${CLIENT_SCRIPT}(${JSON.stringify({ u: beaconUrl, t: token })});\n`;
}
