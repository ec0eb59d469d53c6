/**
 * Translating between the engine's HTTP/1 shapes and HTTP/2 fields on the upstream side
 * (`protocol: http2` clusters): the request's fields to send, and the backend's response fields
 * as a ResponseHead the client side can write, framed for the client's protocol.
 *
 * Why a ResponseHead: the client sides (Http1Stream, Http2Stream) take a response head and its
 * body as HTTP/1 framing describes it. An HTTP/2 backend frames nothing (DATA frames, END_STREAM),
 * so the head says how the body will reach the client: by its Content-Length when the backend
 * sent one; else chunked for an HTTP/1.1 client (the attempt frames each DATA piece, trailers
 * go in the last chunk), until the close for an HTTP/1.0 one, and unframed (`raw`) for an
 * HTTP/2 client, which frames it again itself.
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { isHopByHop } from '../../http/wire/index.js';
import type { RequestHead, ResponseHead } from '../../http/wire/index.js';

const NO_TOKENS: readonly string[] = Object.freeze([]);

/** How the body of a response from an HTTP/2 backend reaches the client. */
export type Http2BodyFraming = 'raw' | 'chunked' | 'close';

/** The framing for a client that speaks `protocol` (ClientSide.protocol). */
export function framingFor(protocol: string): Http2BodyFraming {
  return protocol === 'HTTP/2' ? 'raw' : protocol === 'HTTP/1.0' ? 'close' : 'chunked';
}

/**
 * The HTTP/2 request fields for `head`, going to `authority` over `scheme`: lowercase names,
 * without the connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2) and those listed in
 * `alsoDrop`, `te` kept only as `trailers` (gRPC needs it), `trailer` kept, then `extra` ([name, value, ...]).
 */
export function http2RequestFields(head: RequestHead, target: string, authority: string, scheme: 'http' | 'https', extra: readonly string[], alsoDrop: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': head.method, ':path': target, ':scheme': scheme, ':authority': authority };
  const add = (name: string, value: string): void => {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [String(prev), value];
  };
  const h = head.headers;
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = (h[i] as string).toLowerCase();
    const value = h[i + 1] as string;
    if (name === 'host' || name === 'transfer-encoding' || alsoDrop.includes(name)) continue;
    if (name === 'te') {
      if (value.trim().toLowerCase() === 'trailers') out.te = 'trailers';
      continue;
    }
    // Trailer announces request trailers, which go on to an HTTP/2 backend: kept.
    if (name === 'trailer') {
      add(name, value);
      continue;
    }
    if (isHopByHop(name, head.connectionTokens)) continue;
    add(name, value);
  }
  for (let i = 0; i + 1 < extra.length; i += 2) {
    const name = (extra[i] as string).toLowerCase();
    if (name === 'host' || name === 'connection' || name === 'upgrade') continue;
    add(name, extra[i + 1] as string);
  }
  return out;
}

/** A ResponseHead for an HTTP/2 backend's response fields (see the module comment). */
export function responseHeadFromHttp2(fields: IncomingHttpHeaders, method: string, endStream: boolean, framing: Http2BodyFraming): ResponseHead {
  const status = Number(fields[':status'] ?? 0);
  const flat: string[] = [];
  let contentLength = -1;
  for (const name of Object.keys(fields)) {
    if (name.charCodeAt(0) === 0x3a /* : */) continue;
    const value = fields[name];
    if (value === undefined) continue;
    if (name === 'content-length') {
      const n = Number(value);
      if (Number.isSafeInteger(n) && n >= 0) contentLength = n;
    }
    if (Array.isArray(value)) for (const v of value) flat.push(name, v);
    else flat.push(name, value);
  }
  const noBody = method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
  const empty = noBody || endStream;
  let chunked = false;
  let bodyUntilClose = false;
  if (!empty && contentLength < 0) {
    if (framing === 'chunked') {
      chunked = true;
      flat.push('transfer-encoding', 'chunked');
    } else if (framing === 'close') bodyUntilClose = true;
  }
  if (endStream && !noBody && contentLength < 0 && framing !== 'raw') {
    // No body at all: say so, so an HTTP/1 client does not wait for one.
    flat.push('content-length', '0');
    contentLength = 0;
  }
  return {
    statusCode: status,
    reason: STATUS_CODES[status] ?? '',
    versionMinor: 1,
    headers: flat,
    headBytes: 0,
    noBody,
    contentLength: noBody ? 0 : contentLength,
    chunked,
    bodyUntilClose,
    connectionClose: bodyUntilClose,
    connectionTokens: NO_TOKENS,
    tunnel: false,
    upgrade: undefined,
    keepAliveHint: undefined,
    keepAliveHintMalformed: false,
  };
}

/** A DATA piece as one chunk of a chunked body. */
export function chunk(piece: Buffer): Buffer {
  const size = `${piece.length.toString(16)}\r\n`;
  const out = Buffer.allocUnsafe(size.length + piece.length + 2);
  out.write(size, 0, 'latin1');
  piece.copy(out, size.length);
  out.write('\r\n', size.length + piece.length, 'latin1');
  return out;
}

/** The last chunk, with the trailer fields (pseudo-fields and framing fields left out). */
export function lastChunk(trailers: IncomingHttpHeaders | null): Buffer {
  let text = '0\r\n';
  if (trailers !== null) {
    for (const name of Object.keys(trailers)) {
      if (name.charCodeAt(0) === 0x3a || name === 'content-length' || name === 'transfer-encoding') continue;
      const value = trailers[name];
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${v}\r\n`;
    }
  }
  return Buffer.from(`${text}\r\n`, 'latin1');
}

/** Trailer fields to hand on to an HTTP/2 client (pseudo-fields left out). */
export function trailerFields(trailers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(trailers)) {
    if (name.charCodeAt(0) === 0x3a) continue;
    const value = trailers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
