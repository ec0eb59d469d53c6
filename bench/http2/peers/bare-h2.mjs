// The floor: node:http2 serving the bodies itself, no proxying. `/` is 100 bytes, `/64k` 64 KiB,
// the same bytes the backend nginx serves, with the same content-type.
import { Buffer } from 'node:buffer';
import { args, serveH2 } from './common.mjs';

const small = Buffer.alloc(100, 'x');
const large = Buffer.alloc(64 * 1024, 'y');
serveH2(args(), (req, res) => {
  const body = req.url === '/64k' ? large : small;
  res.writeHead(200, { 'content-type': req.url === '/64k' ? 'application/octet-stream' : 'text/plain', 'content-length': body.length });
  res.end(body);
});
