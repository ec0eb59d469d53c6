// node-http-proxy (http-proxy 1.18). Mode "default": its defaults, which send every upstream
// request with `Connection: close` on a new connection (agent: false). Mode "keepalive": an
// http.Agent({ keepAlive: true }) for the upstream side, as its README suggests.
import http from 'node:http';
import { args, badGateway, peerRequire, serve } from './common.mjs';

const httpProxy = peerRequire('http-proxy');
const { port, mode, upstream } = args();
const options = { target: upstream };
if (mode === 'keepalive') options.agent = new http.Agent({ keepAlive: true });
const proxy = httpProxy.createProxyServer(options);
proxy.on('error', (_err, _req, res) => badGateway(res));
serve(port, (req, res) => proxy.web(req, res));
