/**
 * The benchmark's destination, in its own process so it does not share an event loop with the
 * measuring client: an HTTP origin (`GET /bytes/<n>/<seed>` streams n bytes) and a TCP echo
 * server. Prints one JSON line with both ports, then serves until killed.
 */
import net from 'node:net';
import { startOrigin } from '../../test/helpers/tunnel-harness.js';

const origin = await startOrigin();
const echo = net.createServer((s) => {
  s.setNoDelay(true);
  s.on('error', () => undefined);
  s.pipe(s);
});
echo.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', http: origin.port, echo: (echo.address() as net.AddressInfo).port })}\n`);
});
