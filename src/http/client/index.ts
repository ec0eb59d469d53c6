/**
 * `lifeline/agent`: keep-alive HTTP(S) agents that never lose a request to the keep-alive race.
 * See docs/agent.md.
 *
 * @example
 *   import { KeepAliveAgent } from 'lifeline/agent';
 *   const agent = new KeepAliveAgent();
 *   http.get('http://example.com/', { agent }, (res) => res.resume());
 */
export { KeepAliveAgent } from './keep-alive-agent.js';
export { HttpsKeepAliveAgent } from './https-keep-alive-agent.js';
export { StaleSocketError } from './stale-socket-error.js';
export { parseKeepAliveHint } from './keep-alive-hint.js';
export type { KeepAliveHint } from './keep-alive-hint.js';
export { AGENT_CHANNELS, AGENT_CLOSE_REASONS, agentCloseLayer } from './agent-stats.js';
export type { CloseReason, OriginStats } from './agent-stats.js';
export type { KeepAliveAgentOptions, HttpsKeepAliveAgentOptions } from './agent-options.js';
