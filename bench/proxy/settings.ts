/**
 * bench/proxy's command line and the constants every part of it shares: where things are, how long
 * and how often each scenario runs, which cores the proxy and the load use.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const PEERS_DIR = join(ROOT, 'bench', 'proxy', 'peers');
export const PEER_MODULES = join(ROOT, 'bench', '.peers', 'node_modules');
export const argv = process.argv.slice(2);

/**
 * The young generation's semi-space cap (MiB) every Node proxy runs with: `npm start`'s (4,
 * docs/config.md says why), or `--semi-space=N` for an A/B of that choice.
 */
export const SEMI_SPACE_MIB = Number(argv.find((a) => a.startsWith('--semi-space='))?.slice('--semi-space='.length) ?? '4');
if (!Number.isInteger(SEMI_SPACE_MIB) || SEMI_SPACE_MIB < 1 || SEMI_SPACE_MIB > 1024) throw new Error('--semi-space: an integer of MiB from 1 to 1024');
/** Every Node proxy, lifeline and the peers alike: the semi-space cap above and the GC hook for S4. */
export const NODE_FLAGS = [`--max-semi-space-size=${SEMI_SPACE_MIB}`, '--expose-gc', '--import', pathToFileURL(join(PEERS_DIR, 'gc-on-signal.mjs')).href];
export const QUICK = argv.includes('--quick');
export const WRITE = argv.includes('--write');
export const ONLY = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');

export type ScenarioId = 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'S6' | 'S7';
const ALL_SCENARIOS: readonly ScenarioId[] = ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7'];
const onlyScenarios = argv.find((a) => a.startsWith('--only-scenarios='))?.slice('--only-scenarios='.length).split(',');
for (const s of onlyScenarios ?? []) {
  if (!(ALL_SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only-scenarios: unknown scenario "${s}" (known: ${ALL_SCENARIOS.join(', ')})`);
}
/** The scenarios this run measures (--only-scenarios=S6,S7; default all). S5 runs inside S1. */
export const SCENARIOS: ReadonlySet<ScenarioId> = new Set(onlyScenarios === undefined ? ALL_SCENARIOS : (onlyScenarios as ScenarioId[]));
export const ONLY_SCENARIOS = onlyScenarios;
// The proxy section of RESULTS.md is written whole: a partial run would drop the other tables.
if (WRITE && onlyScenarios !== undefined) throw new Error('--write needs every scenario: drop --only-scenarios (it is for development runs)');

export const ROUNDS = QUICK ? 1 : 2;
export const SECONDS = QUICK ? 3 : 5;
export const WARMUP_SECONDS = 1;
export const CLIENTS = 50;
export const IDLE_CONNECTIONS = QUICK ? 2_000 : 10_000;
export const IDLE_PER_PROCESS = 5_000;
export const CORE_PROXY = 0;
export const CORE_LOAD = 1;
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** S5's window starts this long into the measured S1 run. */
export const S5_SKIP_MS = 1_000;
/**
 * How long S4 lets a proxy sit idle before a reading. A burst of 10,000 connections grows V8's
 * young generation to its maximum (16 MiB of semi-space, ~1.6 KiB per connection at 10,000, the
 * same for every Node proxy and not per connection); V8's memory reducer gives it back about 8 s
 * after a full GC once the process is idle. Both readings are reported.
 */
export const SETTLE_MS = QUICK ? 3_000 : 12_000;
