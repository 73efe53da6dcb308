// Helpers of the fault suites: timed HTTP requests, and a watch on unhandled rejections.
import { BROWSER_UA } from '../helpers/http.js';

export { BROWSER_UA, type Listening, listen } from '../helpers/http.js';

export interface Answer {
  readonly path: string;
  readonly method: string;
  readonly status: number;
  /** Milliseconds from sending the request to the end of the body. */
  readonly ms: number;
  /** When the request was sent (Date.now()). */
  readonly at: number;
  readonly headers: Headers;
  readonly text: string;
}

export interface Call {
  method?: string;
  cookie?: string;
  body?: string;
  contentType?: string;
  /** More request headers. */
  headers?: Record<string, string>;
}

/** One request with fetch, timed to the end of its body. A network failure rejects (a test then fails). */
export async function call(base: string, path: string, options: Call = {}): Promise<Answer> {
  const at = Date.now();
  const started = performance.now();
  const headers: Record<string, string> = { 'user-agent': BROWSER_UA, ...options.headers };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.contentType) headers['content-type'] = options.contentType;
  const response = await fetch(base + path, {
    method: options.method ?? 'GET',
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return {
    path,
    method: options.method ?? 'GET',
    status: response.status,
    ms: performance.now() - started,
    at,
    headers: response.headers,
    text,
  };
}

/** The `sid=<value>` pair of a response's session cookie. */
export function sessionCookie(answer: Answer): string {
  const cookie = answer.headers.getSetCookie().find((c) => c.startsWith('sid='));
  if (!cookie) throw new Error(`no session cookie in the answer to ${answer.path}`);
  return cookie.split(';')[0] as string;
}

/** Records unhandled promise rejections while installed; `dispose()` removes the listener. */
export function watchUnhandledRejections(): { readonly seen: unknown[]; dispose(): void } {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  return { seen, dispose: () => process.off('unhandledRejection', listener) };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `step` in `workers` parallel loops until `stop()` is called; returns every answer. */
export function loadLoop(workers: number, step: (worker: number, i: number) => Promise<Answer>) {
  let running = true;
  const answers: Answer[] = [];
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; running; i++) answers.push(await step(w, i));
  });
  return {
    answers,
    async stop(): Promise<Answer[]> {
      running = false;
      await Promise.all(loops);
      return answers;
    },
  };
}
