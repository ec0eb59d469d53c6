/**
 * Measurement 7: TCP. The connect time (median of three). Whether the server enables TCP
 * keepalive on its sockets is not visible from outside until the connection has been idle for
 * the kernel's keepalive time (two hours by default on Linux) and a probe segment arrives; the
 * probe says so rather than guess.
 */
import { median } from './bounded.js';
import type { ResolvedProbeOptions } from './probe-options.js';
import { open } from './target.js';
import type { Target } from './target.js';

export interface TcpResult {
  /** Median TCP connect time, ms (two decimals). */
  connectMs: number;
  connectSamplesMs: number[];
  /** Always `not_visible`: see the file comment. */
  serverTcpKeepalive: 'not_visible';
}

/** `first` is the connect time of the preflight connection, reused as the first sample. */
export async function measureTcp(target: Target, options: ResolvedProbeOptions, first: number): Promise<TcpResult> {
  options.progress?.set('tcp', 'TCP connects', options.connectTimeoutMs * 2);
  try {
    const samples = [first];
    for (let i = 0; i < 2; i++) {
      // Plain TCP even for https: the TLS handshake is timed by the TLS measurement.
      const opened = await open({ ...target, tls: false }, options.connectTimeoutMs);
      opened.socket.destroy();
      samples.push(opened.connectMs);
    }
    const round = (v: number): number => Math.round(v * 100) / 100;
    return { connectMs: round(median(samples)), connectSamplesMs: samples.map(round), serverTcpKeepalive: 'not_visible' };
  } finally {
    options.progress?.done('tcp');
  }
}
