/**
 * Errors of endpoint discovery. Each names where the bad data came from: the DNS name and the
 * record, or the file, line and entry. They are reported through events and kept from the
 * cluster: a bad answer or a bad file never replaces a good endpoint set.
 */
import { LifelineError } from '../../core/errors.js';

/**
 * A DNS answer that could not be used, or a resolver that failed.
 * Codes: `ERR_DNS_RESOLVE` (the resolver failed: refused, timed out, unreachable),
 * `ERR_DNS_EMPTY` (no records, NXDOMAIN, or SRV target "."), `ERR_DNS_INVALID` (too many
 * records), `ERR_DNS_RECORD` (one record skipped: SRV port 0, a target that does not resolve).
 */
export class DnsDiscoveryError extends LifelineError {
  /** The name that was queried. */
  readonly dnsName: string;
  /** The record at fault, as text (`_http._tcp.api 0 10 8080 t1.api`), when one is. */
  readonly record: string | undefined;

  constructor(code: 'ERR_DNS_RESOLVE' | 'ERR_DNS_EMPTY' | 'ERR_DNS_INVALID' | 'ERR_DNS_RECORD', dnsName: string, message: string, options?: { record?: string; cause?: unknown }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.dnsName = dnsName;
    this.record = options?.record;
  }
}

/** An endpoints file that was refused. The message has one `file:line:col: where: what` line per problem. */
export class EndpointsFileError extends LifelineError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super('ERR_ENDPOINTS_FILE', message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.file = file;
  }
}
