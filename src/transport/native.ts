/**
 * Loader for the optional native addon `build/Release/lifeline_tcp.node` (native/lifeline_tcp.c).
 *
 * Why and invariants: the addon is built at install and may be missing (no compiler, Windows,
 * a failed build). Importing this module never throws; `loadNativeTcp()` returns undefined when
 * the addon cannot be loaded, and callers fall back. The loaded module is checked for the shape we
 * call, so a stale or foreign `.node` file counts as missing rather than failing later.
 */
import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Values as getsockopt reads them back; null for an option the platform lacks. */
export interface NativeTcpReadback {
  /** SO_KEEPALIVE: 1 on, 0 off. */
  enable: number | null;
  /** TCP_KEEPIDLE, whole seconds. */
  idleSec: number | null;
  /** TCP_KEEPINTVL, whole seconds. */
  intervalSec: number | null;
  /** TCP_KEEPCNT. */
  count: number | null;
  /** TCP_USER_TIMEOUT, ms; 0 is the kernel default (off). */
  userTimeoutMs: number | null;
}

/** The addon's two functions. A negative number leaves that option unchanged. */
export interface NativeTcpBinding {
  set(fd: number, enable: boolean, idleSec: number, intervalSec: number, count: number, userTimeoutMs: number): void;
  get(fd: number): NativeTcpReadback;
  /** Non-blocking MSG_PEEK recv: 1 data waiting, 0 FIN, `PEEK_OPEN` open and quiet, other -errno. */
  peek?(fd: number): number;
  /** What peek returns for an open, quiet socket (absent from builds before it was exported,
   * whose peek returned the platform's -EAGAIN). */
  PEEK_OPEN?: number;
}

// From dist/src/transport/ (and src/transport/) the package root is three (two) levels up.
const CANDIDATES = [
  '../../../build/Release/lifeline_tcp.node',
  '../../build/Release/lifeline_tcp.node',
  '../../../build/Debug/lifeline_tcp.node',
];

function isBinding(value: unknown): value is NativeTcpBinding {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return typeof record.set === 'function' && typeof record.get === 'function';
}

let cached: { binding: NativeTcpBinding | undefined; why: string | undefined } | undefined;

/**
 * The native TCP binding, or undefined when the addon is not built or cannot load. Loaded once;
 * later calls return the same answer (a `.node` file cannot be unloaded or reloaded anyway).
 *
 * @example
 *   const native = loadNativeTcp();
 *   if (native) console.log(native.get(fd).idleSec);
 */
export function loadNativeTcp(): NativeTcpBinding | undefined {
  if (cached !== undefined) return cached.binding;
  const require = createRequire(import.meta.url);
  let binding: NativeTcpBinding | undefined;
  const failures: string[] = [];
  for (const candidate of CANDIDATES) {
    const file = fileURLToPath(new URL(candidate, import.meta.url));
    try {
      const loaded: unknown = require(file);
      if (isBinding(loaded)) {
        binding = loaded;
        break;
      }
      failures.push(`${file}: not lifeline's addon (no set/get)`);
    } catch (error) {
      // Missing or unloadable (wrong platform, ABI): try the next place, else report undefined.
      const code = (error as { code?: unknown }).code;
      if (code !== 'MODULE_NOT_FOUND') failures.push(`${file}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  const why = binding !== undefined ? undefined : failures.length > 0 ? failures.join('; ') : 'not built (no build/Release/lifeline_tcp.node)';
  cached = { binding, why };
  return binding;
}

/**
 * Why the addon is not loaded (undefined when it is): "not built (...)" or the load error of each
 * file found, for `lifeline doctor`.
 */
export function nativeTcpUnavailableReason(): string | undefined {
  loadNativeTcp();
  return cached?.why;
}

/** The package's root directory (where build/ and its native-build.log are). */
export function packageRoot(): string {
  // From dist/src/transport/ three levels up; from src/transport/ (ts-node style) two.
  const inDist = fileURLToPath(new URL('.', import.meta.url)).split(sep).includes('dist');
  return fileURLToPath(new URL(inDist ? '../../../' : '../../', import.meta.url));
}
