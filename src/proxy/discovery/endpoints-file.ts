/**
 * `endpointsFile`: a cluster's endpoints from a JSON or YAML file that another program rewrites
 * (a deploy script, a config agent), watched while the proxy runs.
 *
 * The file is a list of `{ address: "host:port", weight?: 1..1000 }`. Replace it atomically
 * (write a temporary file in the same directory, then rename it over the old one): the
 * directory is watched, not the file, because a rename gives the path a new inode that a watch
 * on the old file would never see. Events are debounced (`debounceMs`) so that a burst of
 * writes is read once, and a read that finds the same text as the last one says nothing.
 *
 * A file that cannot be read, does not parse, or breaks a rule (bad address, weight out of
 * range, unknown key, duplicate address, empty list) is refused whole with an
 * `EndpointsFileError` listing every problem as `file:line:col: [i].key: expected ..., found
 * ...`, and the old set is kept. Every outcome is an event: `endpoints` (the set changed),
 * `unchanged`, `rejected`.
 */
import { EventEmitter } from 'node:events';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ClosedError, InvalidOptionError } from '../../core/errors.js';
import { clockOption, integerOption, rejectUnknown } from '../../core/options.js';
import { parseAddress } from '../config/address.js';
import { formatProblem } from '../config/config-error.js';
import type { ConfigProblem } from '../config/config-error.js';
import { WHY } from '../config/schema.js';
import { formatPath, SourceMap } from '../config/source-map.js';
import type { EndpointConfig } from '../config/types.js';
import { EndpointsFileError } from './discovery-errors.js';
import { sameEndpoints, sortEndpoints } from './dns-answers.js';
import { diffMembership, memberKey } from './membership.js';
import type { MembershipDiff } from './membership.js';

const ADDRESS = 'a "host:port" address with a port from 1 to 65535 (IPv6 as [::1]:8080)';
const WEIGHT = 'an integer from 1 to 1000';
const entrySchema = z.strictObject(
  {
    address: z.string({ error: () => ADDRESS }).superRefine((v, ctx) => {
      const p = parseAddress(v, 1);
      if (!p.ok) ctx.addIssue({ code: 'custom', message: ADDRESS + WHY + p.why });
    }),
    weight: z.number({ error: () => WEIGHT }).int({ error: () => WEIGHT }).min(1, { error: () => WEIGHT }).max(1000, { error: () => WEIGHT }).optional(),
  },
  { error: () => 'a mapping with "address" and an optional "weight"' },
);
const fileSchema = z.array(entrySchema, { error: () => 'a list of endpoints ({ address, weight })' }).min(1, { error: () => 'at least one endpoint (an empty list would remove them all)' });

/** What a value is, for "found ...", in the configuration loader's words. (Not imported from
 * the loader: the loader reads endpoints files at `--check`, so that would be an import cycle.) */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the key is missing)';
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') {
    const shown = v.length > 60 ? `${JSON.stringify(v.slice(0, 57))}...` : JSON.stringify(v);
    return /^-?\d+(\.\d+)?$/.test(v) ? `${shown} (a string; remove the quotes)` : `${shown} (a string)`;
  }
  return Array.isArray(v) ? 'a list' : 'a mapping';
}

/**
 * Parse and check endpoints file text; `file` names it in errors. Sorted by address.
 * @example parseEndpointsFile('- address: 10.0.0.1:80\n  weight: 2\n', 'api.yaml')
 */
export function parseEndpointsFile(text: string, file: string): EndpointConfig[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const add = (at: { line: number; column: number }, path: (string | number)[], expected: string, found: string, message?: string): void => {
    problems.push({ file, line: at.line, column: at.column, path: formatPath(path), expected, found, message: message ?? `expected ${expected}, found ${found}` });
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      const found = e.message.split('\n')[0] ?? e.message;
      add({ line: pos.line, column: pos.col }, [], 'valid YAML or JSON', found, `invalid YAML or JSON: ${found}`);
    }
    throw new EndpointsFileError(file, `endpoints file refused:\n${problems.map(formatProblem).join('\n')}`);
  }
  const map = new SourceMap(doc, lines);
  const data: unknown = doc.contents === null ? undefined : doc.toJS({ maxAliasCount: 100 });
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) add(map.locate([...path, key]), [...path, key], 'only "address" and "weight"', `unknown key "${key}"`);
        continue;
      }
      let value: unknown = data;
      for (const seg of path) value = value !== null && typeof value === 'object' ? (value as Record<string | number, unknown>)[seg] : undefined;
      const at = path.length === 0 ? { line: 1, column: 1 } : map.locate(path);
      const [expected, why] = issue.message.split(WHY);
      const found = data === undefined && path.length === 0 ? 'an empty file' : describe(value);
      add(at, path, expected ?? issue.message, why === undefined ? found : `${found}: ${why}`);
    }
  } else {
    const seen = new Map<string, number>();
    for (const [i, e] of parsed.data.entries()) {
      const key = memberKey(e.address);
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else add(map.locate([i, 'address']), [i, 'address'], 'an address not already in the list (raise "weight" instead)', `"${e.address}", the address of [${first}]`);
    }
  }
  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new EndpointsFileError(file, `endpoints file refused:\n${problems.map(formatProblem).join('\n')}`);
  }
  return sortEndpoints(
    parsed.data.map((e) => {
      const p = parseAddress(e.address, 1);
      if (!p.ok) throw new Error(`unreachable: ${e.address} was checked`);
      return { ...p.value, weight: e.weight ?? 1 };
    }),
  );
}

export interface EndpointsFileOptions {
  /** The file; relative paths resolve against the working directory (the loader makes them absolute). */
  path: string;
  /** Quiet time after the last change event before the file is read, ms. Default 100. */
  debounceMs?: number;
  clock?: Clock;
}

export interface EndpointsFileEvents {
  endpoints: [endpoints: readonly EndpointConfig[], diff: MembershipDiff];
  unchanged: [];
  rejected: [error: EndpointsFileError];
}

type Lifecycle = 'new' | 'watching' | 'closed';

/**
 * @example
 *   const f = new EndpointsFile({ path: '/etc/lifeline/api-endpoints.yaml' });
 *   f.on('endpoints', (set, diff) => cluster.apply(diff));
 *   f.on('rejected', (err) => log.warn(err.message));
 *   await f.start(); // throws EndpointsFileError if the file is bad at start
 */
export class EndpointsFile extends EventEmitter<EndpointsFileEvents> {
  readonly path: string;
  readonly debounceMs: number;
  readonly stats = { loads: 0, changes: 0, rejections: 0 };
  readonly #clock: Clock;
  #state: Lifecycle = 'new';
  #endpoints: readonly EndpointConfig[] = [];
  #watcher: FSWatcher | undefined;
  #debounce: TimerHandle | undefined;
  #reading: Promise<void> | undefined;
  /** The text of the last read, good or bad; after a failed read, a marker with its error code. */
  #lastText: string | undefined;
  #again = false;

  constructor(options: EndpointsFileOptions) {
    super();
    const o = rejectUnknown('EndpointsFile', options, ['path', 'debounceMs', 'clock']);
    if (typeof o['path'] !== 'string' || o['path'] === '') throw new InvalidOptionError('EndpointsFile.path', `EndpointsFile.path must be a file path; got ${JSON.stringify(o['path'])}`);
    this.path = resolve(o['path']);
    this.debounceMs = integerOption('EndpointsFile', o, 'debounceMs', 100, { min: 0, max: 60_000 });
    this.#clock = clockOption('EndpointsFile', o);
  }

  get endpoints(): readonly EndpointConfig[] {
    return this.#endpoints;
  }

  /** Read the file (a bad one throws `EndpointsFileError`: refuse to start) and start watching. */
  async start(): Promise<readonly EndpointConfig[]> {
    if (this.#state !== 'new') throw new InvalidOptionError('EndpointsFile', `EndpointsFile.start() called when ${this.#state}`);
    const first = await this.#read();
    if (this.#state !== 'new') throw new ClosedError('EndpointsFile');
    if (first instanceof EndpointsFileError) throw first;
    this.#endpoints = first;
    this.stats.loads += 1;
    this.#state = 'watching';
    // Every event in the directory schedules a read, not only those naming the file: Kubernetes
    // updates a mounted ConfigMap by swapping a `..data` symlink, and the event names that. A
    // read whose text is the same as the last one's is dropped without an event.
    this.#watcher = watch(dirname(this.path), { persistent: false }, () => this.#schedule());
    this.#watcher.on('error', (err) => {
      this.stats.rejections += 1;
      this.emit('rejected', new EndpointsFileError(this.path, `${this.path}: watching its directory failed (${err.message}); the old endpoints are kept (${this.#endpoints.length})`, { cause: err }));
    });
    this.emit('endpoints', first, diffMembership([], first));
    // A rename between the first read and the watch would go unseen: look once more (the same
    // text is dropped without an event).
    this.#schedule();
    return first;
  }

  /** Read the file now (joins a read under way, then reads again). */
  reload(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('EndpointsFile'));
    if (this.#reading !== undefined) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = this.#reloadLoop().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  /** Stop watching. Idempotent. */
  close(): void {
    this.#state = 'closed';
    this.#debounce?.cancel();
    this.#debounce = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #schedule(): void {
    if (this.#state !== 'watching') return;
    this.#debounce?.cancel();
    this.#debounce = this.#clock.setTimer(() => {
      this.#debounce = undefined;
      this.reload().catch(() => undefined);
    }, this.debounceMs);
  }

  async #reloadLoop(): Promise<void> {
    do {
      this.#again = false;
      const previousText = this.#lastText;
      const next = await this.#read();
      if (this.#state === 'closed') return;
      if (this.#lastText !== undefined && this.#lastText === previousText) continue;
      if (next instanceof EndpointsFileError) {
        this.stats.rejections += 1;
        const kept = this.#endpoints.length;
        this.emit('rejected', new EndpointsFileError(this.path, `${next.message}\nthe old endpoints are kept (${kept})`, { cause: next.cause }));
        continue;
      }
      this.stats.loads += 1;
      if (sameEndpoints(this.#endpoints, next)) {
        this.emit('unchanged');
        continue;
      }
      const diff = diffMembership(this.#endpoints, next);
      this.#endpoints = next;
      this.stats.changes += 1;
      this.emit('endpoints', next, diff);
    } while (this.#again);
  }

  async #read(): Promise<EndpointConfig[] | EndpointsFileError> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
      this.#lastText = text;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.#lastText = `\u0000${String(code)}`;
      return new EndpointsFileError(this.path, `${this.path}:1:1: cannot read the endpoints file (${typeof code === 'string' ? code : String(err)})`, { cause: err });
    }
    try {
      return parseEndpointsFile(text, this.path);
    } catch (err) {
      if (err instanceof EndpointsFileError) return err;
      throw err;
    }
  }
}
