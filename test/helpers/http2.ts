// One GET over HTTP/2, for the suites that check a middleware on HTTP/2's compatibility API.
import { connect, type IncomingHttpHeaders } from 'node:http2';

/** The reply to one GET of `path`, on a connection of its own. */
export interface Http2Reply {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Sends `GET path` with `headers` to the server at `url` and reads the whole reply. */
export async function http2Get(
  url: string,
  headers: Record<string, string> = {},
  path = '/',
): Promise<Http2Reply> {
  const client = connect(url);
  try {
    return await new Promise((resolve, reject) => {
      const stream = client.request({ ':path': path, ...headers });
      let replyHeaders: IncomingHttpHeaders = {};
      let body = '';
      stream.on('response', (received) => {
        replyHeaders = received;
      });
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      stream.on('end', () => resolve({ headers: replyHeaders, body }));
      stream.on('error', reject);
      stream.end();
    });
  } finally {
    client.close();
  }
}
