// Two Linux network namespaces joined through a bridge (a switch) in a third: a private link the
// test can cut.
//
// Why: to test dead-peer detection the link must go silent (packets vanish, nobody answers),
// which loopback cannot do. Taking the server's veth end down does it. The switch in the middle
// matters: with a direct veth pair, the client's end would lose carrier too, its kernel would
// drop packets locally and know it (the first send of new data then waits on the zero-window
// probe timer instead of being "sent and lost", which delays TCP_USER_TIMEOUT by ~0.7 s). Through
// the bridge, the client's link stays up and its packets leave and vanish at the switch, with no
// error and no ICMP, like a cable cut one hop away.
//
// Invariants: names carry the test process pid (`llka-a-<pid>-<tag>`), so parallel runs do not
// collide and leftovers of a killed run can be recognised and removed; addresses live only inside
// the namespaces; every `ip` call is bounded by a timeout; `destroy()` is idempotent and deleting
// a namespace also deletes the veth ends inside it.
import { execFileSync } from 'node:child_process';

const IP_TIMEOUT_MS = 5000;
const PREFIX = 'llka-';

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: IP_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
}

function errorText(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const text = typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : String(error);
  return text.split('\n')[0] ?? text;
}

export interface NetnsPair {
  /** Namespace names: A holds the server end, B the client end, M the switch between them. */
  readonly nsA: string;
  readonly nsB: string;
  readonly nsM: string;
  /** veth interface names inside nsA and nsB. */
  readonly vethA: string;
  readonly vethB: string;
  /** IPv4 addresses (no prefix length) of vethA and vethB. */
  readonly addrA: string;
  readonly addrB: string;
  /** Command and args that run `argv` inside namespace `ns` (for spawn). */
  execIn(ns: string, argv: string[]): [string, string[]];
  /** Bring vethA (the server's end) down or up; the client's link keeps its carrier. */
  setLinkA(up: boolean): void;
  /** Delete both namespaces (and so the veth pair). Safe to call twice. */
  destroy(): void;
}

/** Why namespaces cannot be used here, or undefined when they can (try to create them anyway). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    ip(['-V']);
  } catch (error) {
    return `the \`ip\` tool (iproute2) is not usable: ${errorText(error)}`;
  }
  return undefined;
}

/** Delete namespaces left by earlier runs whose process is gone (a killed run cannot clean up). */
export function removeStaleNamespaces(): void {
  let list: string;
  try {
    list = ip(['netns', 'list']);
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^llka-[abm]-(\d+)-/.exec(name);
    if (m === null || isAlive(Number(m[1]))) continue;
    try {
      ip(['netns', 'del', name]);
    } catch {
      // Someone else removed it first: nothing to do.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Create the pair, or throw an Error whose message starts with "unavailable:" when the kernel or
 * container refuses namespaces or veth (the caller skips then); other failures throw as they are.
 * `subnet` (1..254) picks 10.199.<subnet>.0/24.
 *
 * @example
 *   const pair = createNetnsPair('ka', 7);
 *   t.after(() => pair.destroy());
 *   spawn(...pair.execIn(pair.nsA, ['node', 'server.mjs', pair.addrA]));
 */
export function createNetnsPair(tag: string, subnet: number): NetnsPair {
  const pid = process.pid;
  const [nsA, nsB, nsM] = ['a', 'b', 'm'].map((side) => `${PREFIX}${side}-${pid}-${tag}`) as [string, string, string];
  // Interface names are limited to 15 bytes: "lk" + pid (<= 7 digits) + 1-char role + 2-char tag.
  const ifName = (role: string): string => `lk${pid}${role}${tag.slice(0, 2)}`;
  const [vethA, vethB, portA, portB, bridge] = ['a', 'b', 'p', 'q', 'r'].map(ifName) as [string, string, string, string, string];
  const addrA = `10.199.${subnet}.1`;
  const addrB = `10.199.${subnet}.2`;
  const created: string[] = [];
  const destroy = (): void => {
    while (created.length > 0) {
      const ns = created.pop() as string;
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // Already gone.
      }
    }
  };
  try {
    for (const ns of [nsA, nsB, nsM]) {
      try {
        ip(['netns', 'add', ns]);
      } catch (error) {
        throw new Error(`unavailable: cannot create network namespace ${ns}: ${errorText(error)}`);
      }
      created.push(ns);
    }
    try {
      ip(['link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', portA, 'netns', nsM]);
      ip(['link', 'add', vethB, 'netns', nsB, 'type', 'veth', 'peer', 'name', portB, 'netns', nsM]);
      ip(['-n', nsM, 'link', 'add', bridge, 'type', 'bridge']);
    } catch (error) {
      throw new Error(`unavailable: cannot create veth pairs and a bridge: ${errorText(error)}`);
    }
    // STP is off by default, so bridge ports forward as soon as they are up.
    for (const port of [portA, portB]) ip(['-n', nsM, 'link', 'set', port, 'master', bridge, 'up']);
    ip(['-n', nsM, 'link', 'set', bridge, 'up']);
    ip(['-n', nsA, 'addr', 'add', `${addrA}/24`, 'dev', vethA]);
    ip(['-n', nsB, 'addr', 'add', `${addrB}/24`, 'dev', vethB]);
    ip(['-n', nsA, 'link', 'set', vethA, 'up']);
    ip(['-n', nsB, 'link', 'set', vethB, 'up']);
  } catch (error) {
    destroy();
    throw error;
  }
  return {
    nsA,
    nsB,
    nsM,
    vethA,
    vethB,
    addrA,
    addrB,
    execIn: (ns, argv) => ['ip', ['netns', 'exec', ns, ...argv]],
    setLinkA: (up) => {
      ip(['-n', nsA, 'link', 'set', vethA, up ? 'up' : 'down']);
    },
    destroy,
  };
}
