/**
 * Responses the proxy writes itself (errors, 404, 503): short plain-text bodies with exact
 * framing, so a client that keeps the connection knows where each ends.
 */
import { STATUS_CODES } from 'node:http';

export function localResponse(status: number, code: string, close: boolean, extra = ''): string {
  const body = `${status} ${STATUS_CODES[status] ?? ''}: ${code}\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `${close ? 'Connection: close\r\n' : ''}${extra}X-Lifeline-Error: ${code}\r\n\r\n${body}`
  );
}
