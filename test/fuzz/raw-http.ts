// Sends raw bytes as an HTTP/1.1 request over a TCP socket, so invalid UTF-8, odd framing and oversized
// values reach the server exactly as written (fetch and supertest would normalise or refuse some of them).
import { connect } from 'node:net';

export interface RawAnswer {
  /** The status of the response, or null when the server closed the connection without one. */
  readonly status: number | null;
  readonly head: string;
  readonly body: Buffer;
}

export interface RawRequest {
  method?: string;
  /** The request target as bytes (path and query), written as is. */
  target: Buffer | string;
  /** Header lines as raw bytes, without CRLF. `Host` and `Connection: close` are added first. */
  headers?: (Buffer | string)[];
  body?: Buffer | string;
  /** Send the body with `Transfer-Encoding: chunked`, in chunks of this size. */
  chunked?: number;
  /** Close our side after the head and a part of the body (a client that goes away mid-request). */
  truncateBodyAt?: number;
}

/** Writes one request and reads until the server closes the connection; rejects after `timeoutMs`. */
export function rawRequest(port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawAnswer> {
  const crlf = Buffer.from('\r\n');
  const parts: Buffer[] = [
    Buffer.from(`${request.method ?? 'GET'} `),
    Buffer.isBuffer(request.target) ? request.target : Buffer.from(request.target, 'latin1'),
    Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n'),
  ];
  for (const header of request.headers ?? []) {
    parts.push(Buffer.isBuffer(header) ? header : Buffer.from(header, 'latin1'), crlf);
  }
  const body =
    request.body === undefined
      ? undefined
      : Buffer.isBuffer(request.body)
        ? request.body
        : Buffer.from(request.body, 'utf8');
  if (body !== undefined && request.chunked) {
    parts.push(Buffer.from('Transfer-Encoding: chunked\r\n\r\n'));
    for (let i = 0; i < body.length; i += request.chunked) {
      const chunk = body.subarray(i, i + request.chunked);
      parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, crlf);
    }
    parts.push(Buffer.from('0\r\n\r\n'));
  } else if (body !== undefined) {
    parts.push(Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body);
  } else {
    parts.push(crlf);
  }
  let bytes = Buffer.concat(parts);
  if (request.truncateBodyAt !== undefined && body !== undefined) {
    bytes = bytes.subarray(0, bytes.length - body.length + Math.min(request.truncateBodyAt, body.length));
  }

  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${bytes.subarray(0, 200).toString('latin1')}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      const all = Buffer.concat(received);
      const end = all.indexOf('\r\n\r\n');
      const head = (end === -1 ? all : all.subarray(0, end)).toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({
        status: match ? Number(match[1]) : null,
        head,
        body: end === -1 ? Buffer.alloc(0) : all.subarray(end + 4),
      });
    };
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('close', finish);
    // The server may answer (413, 431, 400) and close before it has read all we send: that is fine.
    socket.on('error', () => {});
    socket.on('connect', () => {
      socket.write(bytes);
      if (request.truncateBodyAt !== undefined) socket.end();
    });
  });
}
