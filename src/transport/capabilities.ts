/**
 * What this machine's transport layer can do, and why not: the native addon, each TCP option it
 * sets, reading into a caller's buffer. For `lifeline doctor` and for programs that want to log
 * it at start-up.
 *
 * Why probe rather than guess from the platform: a kernel can lack TCP_USER_TIMEOUT, a container
 * can forbid an option, and an addon built for another Node's ABI will not load. So the probe
 * sets each option on a real loopback socket and reads it back.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { loadNativeTcp, nativeTcpUnavailableReason, packageRoot } from './native.js';
import { userReadBufferSupported } from './user-read-buffer.js';

/** One capability: available or not, and a short why. */
export interface Capability {
  available: boolean;
  detail: string;
}

export interface TransportCapabilities {
  node: string;
  platform: string;
  nativeAddon: Capability & { buildLog: string | null };
  tcpKeepIdle: Capability;
  tcpKeepInterval: Capability;
  tcpKeepCount: Capability;
  tcpUserTimeout: Capability;
  userReadBuffer: Capability;
}

/** Set every option on a loopback connection and read it back. */
async function probeTcpOptions(): Promise<{ idle: boolean; interval: boolean; count: boolean; userTimeout: boolean; error?: string }> {
  const native = loadNativeTcp();
  if (native === undefined) return { idle: false, interval: false, count: false, userTimeout: false };
  const server = net.createServer((s) => s.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const port = (server.address() as net.AddressInfo).port;
    const socket = net.connect(port, '127.0.0.1');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) return { idle: false, interval: false, count: false, userTimeout: false, error: 'no file descriptor on this platform' };
      native.set(fd, true, 61, 7, 5, 12_345);
      const r = native.get(fd);
      return { idle: r.idleSec === 61, interval: r.intervalSec === 7, count: r.count === 5, userTimeout: r.userTimeoutMs === 12_345 };
    } finally {
      socket.destroy();
    }
  } catch (error) {
    return { idle: false, interval: false, count: false, userTimeout: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    server.close();
  }
}

/**
 * @example
 *   const caps = await transportCapabilities();
 *   if (!caps.tcpUserTimeout.available) console.warn(caps.tcpUserTimeout.detail);
 */
export async function transportCapabilities(): Promise<TransportCapabilities> {
  const native = loadNativeTcp();
  const logFile = join(packageRoot(), 'build', 'native-build.log');
  const buildLog = existsSync(logFile) ? logFile : null;
  const nativeAddon = native !== undefined
    ? { available: true, detail: 'loaded (build/Release/lifeline_tcp.node)', buildLog }
    : { available: false, detail: `${nativeTcpUnavailableReason() ?? 'not loaded'}${buildLog === null ? '; reinstall with a C compiler (make, gcc or cc) to build it' : `; why the build failed: ${buildLog}`}`, buildLog };
  const probe = await probeTcpOptions();
  const option = (ok: boolean, name: string): Capability => {
    if (ok) return { available: true, detail: `${name} set and read back` };
    if (native === undefined) return { available: false, detail: name === 'TCP_KEEPIDLE' ? 'native addon missing: only the idle time, through socket.setKeepAlive()' : 'native addon missing: left at the kernel default' };
    return { available: false, detail: `${name} not settable here${probe.error === undefined ? ' (the kernel did not keep the value)' : `: ${probe.error}`}` };
  };
  const urb = userReadBufferSupported();
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    nativeAddon,
    tcpKeepIdle: option(probe.idle, 'TCP_KEEPIDLE'),
    tcpKeepInterval: option(probe.interval, 'TCP_KEEPINTVL'),
    tcpKeepCount: option(probe.count, 'TCP_KEEPCNT'),
    tcpUserTimeout: option(probe.userTimeout, 'TCP_USER_TIMEOUT'),
    userReadBuffer: urb
      ? { available: true, detail: "accepted sockets read into one shared buffer (the proxy's data path)" }
      : { available: false, detail: "this Node's net.Socket does not take onread for accepted sockets: reads allocate per chunk" },
  };
}
