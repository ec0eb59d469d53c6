/**
 * The reverse proxy's configuration: `loadConfig` / `parseConfig` give a fully defaulted,
 * cross-checked `ProxyConfig` or a `ConfigError` listing every problem with its file, line,
 * column and key path. Keys, units and defaults are documented in docs/config.md.
 */
export { loadConfig, parseConfig, getCluster } from './load-config.js';
export { ConfigError, formatProblem } from './config-error.js';
export type { ConfigProblem } from './config-error.js';
export * as configDefaults from './defaults.js';
export type {
  AccessLogConfig,
  AdminConfig,
  EventLogConfig,
  AddressConfig,
  BalancerName,
  ClientConfig,
  Http2ClientConfig,
  Http2UpstreamConfig,
  ClusterConfig,
  DiscoveryConfig,
  DrainConfig,
  EndpointConfig,
  HealthCheckConfig,
  ListenerConfig,
  ListenerTlsConfig,
  OutlierDetectionConfig,
  PoolConfig,
  ProxyConfig,
  RetryCondition,
  RouteConfig,
  TcpKeepAliveConfig,
  UpstreamTimeoutsConfig,
  UpstreamTlsConfig,
  WebSocketConfig,
} from './types.js';
