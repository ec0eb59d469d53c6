// http2-proxy (nxtedition) on node:http2's server (allowHTTP1), HTTP/1.1 to the backend through
// an http.Agent with keep-alive, so its upstream connections are reused as every other proxy's,
// keeping up to 512 idle (the other fronts' cap, configs.ts UPSTREAM_IDLE; the agent's default is 256).
import http from 'node:http';
import { createRequire } from 'node:module';
import { args, serveH2 } from './common.mjs';

const peerRequire = createRequire(new URL('../../.peers/package.json', import.meta.url));
const proxy = peerRequire('http2-proxy');
const a = args();
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 512 });
const options = { hostname: '127.0.0.1', port: a.backend, onReq: (_req, opts) => http.request({ ...opts, agent }) };
serveH2(a, (req, res) => {
  proxy.web(req, res, options, (err) => {
    if (!err) return;
    if (res.headersSent) res.destroy();
    else {
      res.writeHead(502, { 'content-length': '0' });
      res.end();
    }
  });
});
