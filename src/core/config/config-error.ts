/**
 * `ConfigError`: every problem found in a configuration file, each with its place.
 *
 * Why one error with a list: a user fixing a config wants all of its mistakes at once, not one
 * per run. Each problem names the file, line and column, the key path
 * (`clusters.demo.endpoints[0].address`), what was expected and what was found; the message has
 * one line per problem, sorted by position, in the `file:line:col: path: message` form that
 * editors and terminals turn into links.
 */
import { LifelineError } from '../errors.js';

/** One thing wrong with a configuration. `line` and `column` are 1-based. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Key path such as `clusters.demo.endpoints[0].address`; empty for the whole document. */
  path: string;
  /** What would have been accepted, e.g. `an integer of milliseconds >= 1`. */
  expected: string;
  /** What was there, e.g. `-5`, `"75s" (a string)`, `nothing (the key is missing)`. */
  found: string;
  /** The full explanation, usually `expected <expected>, found <found>`. */
  message: string;
}

/** Format one problem as `file:line:col: path: message`. */
export function formatProblem(p: ConfigProblem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
}

/**
 * A configuration that cannot be used. `problems` lists every one found; the message has one
 * line per problem.
 *
 * @example
 *   try { await loadConfig('proxy.yaml'); }
 *   catch (err) { if (err instanceof ConfigError) { console.error(err.message); process.exit(2); } }
 *   // proxy.yaml:12:7: clusters.demo.timeouts.connectTimeoutMs: expected an integer of milliseconds from 1 to 1073741823, found -5
 */
export class ConfigError extends LifelineError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const sorted = [...problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
    const head = sorted.length === 1 ? '' : `${sorted.length} problems in the configuration:\n`;
    super('ERR_CONFIG', head + sorted.map(formatProblem).join('\n'), options);
    this.problems = sorted;
  }
}
