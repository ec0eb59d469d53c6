/**
 * Where a cluster's endpoints come from when they are not a static list: DNS (A/AAAA or SRV,
 * re-resolved), a watched endpoints file, and the membership diff the cluster applies when a
 * source reports a new set. Sources report sets; the cluster owns the endpoints.
 */
export { DnsDiscovery } from './dns-discovery.js';
export { resolverProblem } from './resolver-address.js';
export type { DnsDiscoveryEvents, DnsDiscoveryOptions, DnsDiscoveryStats, StaleInfo } from './dns-discovery.js';
export { DnsDiscoveryError, EndpointsFileError } from './discovery-errors.js';
export { diffMembership, isEmptyDiff, memberKey } from './membership.js';
export type { MemberSpec, MembershipDiff } from './membership.js';
export { EndpointsFile, parseEndpointsFile } from './endpoints-file.js';
export type { EndpointsFileEvents, EndpointsFileOptions } from './endpoints-file.js';
export { ClusterMembership, MembershipError } from './cluster-membership.js';
export type { ChangeOrigin, MembershipChange, MembershipEvents, MembershipSnapshot, MembershipSource } from './cluster-membership.js';
