/**
 * `http/wire`: the strict, incremental HTTP/1.1 wire layer under the proxy's raw-socket data path.
 *
 * Nothing here does I/O, allocates per byte, or keeps per-connection state except ChunkedScanner.
 * Every rejection is an `HttpParseError` with a stable `code` and the `status` a server answers.
 *
 * API
 * - `parseRequestHead(buf, start, end, limits): RequestHead | null`
 *   null = head incomplete (call again with the same start when more bytes arrive).
 *   Throws 431 as soon as `maxHeaderBytes` bytes are buffered without the head's end, or on
 *   more than `maxHeaders` fields; 505 for a well-formed HTTP version other than 1.0/1.1; 400
 *   for everything else below. One leading empty line (CRLF) is skipped and counted in
 *   `headBytes`. Framing is decided once, here: `contentLength` (-1 none), `chunked`,
 *   `connectionClose`, `connectionTokens`, `upgrade`, `expectContinue`, `host`.
 * - `parseResponseHead(buf, start, end, limits, requestMethod): ResponseHead | null`
 *   Status line `HTTP/1.x SP 3DIGIT SP reason CRLF` (also `HTTP/1.x SP 3DIGIT CRLF`); framing by
 *   RFC 9112 6.3: `noBody` for HEAD, 1xx, 204, 304 and 2xx to CONNECT; else `chunked`, else
 *   `contentLength`, else `bodyUntilClose`. Plus `tunnel` (101 / CONNECT 2xx), `upgrade`,
 *   `keepAliveHint` `{ timeoutSec?, max? }` and `keepAliveHintMalformed`.
 * - `new ChunkedScanner(options?)`, `.push(buf, start, end): number` (index past the body's end,
 *   or -1), `.reset()`, `.done`, `.dataBytes`: validates a chunked body without copying it.
 * - `isHopByHop(name, connectionTokens)`, `buildRequestHead(...)`, `buildResponseHead(...)`:
 *   HTTP/1.1 heads to forward, hop-by-hop fields dropped (list in hop-by-hop.ts).
 * - `headLimits(options?)`: validated limits; `DEFAULT_HEAD_LIMITS` (16384 bytes, 100 fields).
 *
 * Rules (requests; responses the same unless noted):
 * - Lines end in CRLF: a bare CR (ERR_HTTP_BARE_CR) or bare LF (ERR_HTTP_BARE_LF) anywhere in
 *   the head is refused; so is a field line starting with SP/HTAB (ERR_HTTP_OBS_FOLD).
 * - Request line: method = token, exactly one SP, target of VCHAR/obs-text in the form its method
 *   allows, one SP, `HTTP/1.0` or `HTTP/1.1` (ERR_HTTP_BAD_REQUEST_LINE, ERR_HTTP_VERSION_NOT_SUPPORTED).
 * - Fields: token name, colon right after it (no whitespace: RFC 9112 5.1), value of
 *   VCHAR/obs-text/SP/HTAB, no NUL or other CTL (ERR_HTTP_BAD_HEADER).
 * - Content-Length: 1*DIGIT <= 2^53-1; no sign, space, hex, exponent or list; given once
 *   (duplicates are refused even when identical, like nginx) (ERR_HTTP_BAD_CONTENT_LENGTH).
 * - Transfer-Encoding with Content-Length: ERR_HTTP_CL_TE (responses too).
 * - Request Transfer-Encoding: exactly one field whose value is `chunked` (any case, OWS around);
 *   `chunked, identity`, `gzip, chunked`, `xchunked`, a second TE field, TE in HTTP/1.0: all
 *   ERR_HTTP_BAD_TRANSFER_ENCODING (400, not 501). Responses may list codings without parameters;
 *   chunked, if present, must be last and once; without chunked the body runs until close.
 * - `Content_Length` / `Transfer_Encoding` (underscore lookalikes that CGI-style backends read as
 *   framing) are refused: ERR_HTTP_BAD_HEADER.
 * - HTTP/1.1 requests need exactly one Host; Host holds only host[:port] characters (ERR_HTTP_BAD_HOST).
 *
 * Not done here (the caller's): body size limits (413), Expect values other than 100-continue
 * (417), the Host of an absolute-form target, and what a 1xx/101 response means for the exchange.
 */
export { parseRequestHead } from './request-head.js';
export type { RequestHead } from './request-head.js';
export { parseResponseHead } from './response-head.js';
export type { ResponseHead, KeepAliveHint } from './response-head.js';
export { headLimits, DEFAULT_HEAD_LIMITS } from './head-limits.js';
export type { HeadLimits } from './head-limits.js';
export { ChunkedScanner } from './chunked-scanner.js';
export { ChunkedDecoder } from './chunked-decoder.js';
export type { ChunkedScannerOptions } from './chunked-scanner.js';
export { isHopByHop, isFramingField } from './hop-by-hop.js';
export { buildRequestHead, buildResponseHead } from './build-head.js';
export type { BuildHeadOptions } from './build-head.js';
export { HttpParseError, HTTP_PARSE_ERROR_CODES } from './http-parse-error.js';
export type { HttpParseErrorCode, HttpParseStatus } from './http-parse-error.js';
