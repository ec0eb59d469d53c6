// fast-proxy-lite 1.1 on a plain http.Server: forwards with Node's http.request over its own
// keep-alive http.Agent (maxSockets 2048). It answers upstream errors itself (503/504/500).
import { args, peerRequire, serve } from './common.mjs';

const { port, upstream } = args();
const { proxy } = peerRequire('fast-proxy-lite')({ base: upstream });
serve(port, (req, res) => proxy(req, res, req.url, {}));
