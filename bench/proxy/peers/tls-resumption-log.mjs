// Preloaded (--import) into lifeline for S7: one line per TLS handshake a tls.Server completes,
// `1` when the client resumed its session, `0` for a full handshake, then the protocol (as nginx's
// $ssl_protocol and HAProxy's ssl_fc_protocol print it), appended to the file named by
// LIFELINE_BENCH_RESUMPTION_LOG. One write per connection, as nginx and HAProxy write one log
// line per request; it reads what the server saw, not what the client claims.
import { openSync, writeSync } from 'node:fs';
import tls from 'node:tls';

const file = process.env.LIFELINE_BENCH_RESUMPTION_LOG;
if (file) {
  const fd = openSync(file, 'a');
  const emit = tls.Server.prototype.emit;
  tls.Server.prototype.emit = function (event, ...args) {
    if (event === 'secureConnection') writeSync(fd, `${args[0].isSessionReused() ? '1' : '0'} ${args[0].getProtocol()}\n`);
    return emit.call(this, event, ...args);
  };
}
