/**
 * The generic part of loading a configuration file, shared by the proxy and the tunnel: parse
 * YAML (or JSON: JSON is YAML), substitute `${ENV}`, check the shape against a zod schema, and
 * turn every failure into a `ConfigProblem` placed at its file, line and column, with "did you
 * mean" for unknown keys and mistyped enumeration values.
 *
 * Why one place: the same mistakes (a typo in a key, a duration written as "75s") deserve the
 * same answer whichever command reads the file.
 */
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { ConfigProblem } from './config-error.js';
import { substituteEnv } from './env-substitute.js';
import { formatPath, SourceMap } from './source-map.js';
import type { KeyPath } from './source-map.js';
import { suggest } from './suggest.js';

/** Separates "expected" from the reason in a schema message: `expected + WHY + why`. */
export const WHY = '\u0000';

/** One problem at a place: `expected <expected>, found <found>` unless `message` says otherwise. */
export function configProblem(file: string, at: { line: number; column: number }, path: KeyPath, expected: string, found: string, message?: string): ConfigProblem {
  return { file, line: at.line, column: at.column, path: formatPath(path), expected, found, message: message ?? `expected ${expected}, found ${found}` };
}

/** What a value is, for "found ...": `-5`, `"75s" (a string)`, `a list`, `nothing (the key is missing)`. */
export function describeValue(v: unknown, key?: string | number): string {
  if (v === undefined) return 'nothing (the key is missing)';
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') {
    const shown = v.length > 60 ? `${JSON.stringify(v.slice(0, 57))}...` : JSON.stringify(v);
    const duration = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(v.trim());
    if (duration !== null && typeof key === 'string' && key.endsWith('Ms')) {
      const scale = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[duration[2] as 'ms' | 's' | 'm' | 'h'];
      return `${shown} (a string; durations are integer milliseconds: write ${Math.round(Number(duration[1]) * scale)})`;
    }
    return /^-?\d+(\.\d+)?$/.test(v) ? `${shown} (a string; remove the quotes)` : `${shown} (a string)`;
  }
  if (Array.isArray(v)) return 'a list';
  return 'a mapping';
}

/**
 * The keys a schema accepts at `path` (through optional, nullable, pipes, lists and records);
 * empty where the value there is not a mapping.
 */
export function knownKeysOf(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType = schema;
  for (const seg of [...path, null]) {
    for (;;) {
      if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
      else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
      else break;
    }
    if (seg === null) return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
    if (s instanceof z.ZodObject) {
      const next = (s.shape as Record<string, z.ZodType | undefined>)[String(seg)];
      if (next === undefined) return [];
      s = next;
    } else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodRecord) s = s._zod.def.valueType as z.ZodType;
    else return [];
  }
  return [];
}

function valueAt(data: unknown, path: KeyPath): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function fromIssue(issue: z.core.$ZodIssue, data: unknown, file: string, map: SourceMap, knownKeysAt: (path: KeyPath) => string[]): ConfigProblem[] {
  const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(path);
    return issue.keys.map((key) => {
      const guess = suggest(key, known);
      const at = [...path, key];
      const expected = known.length > 0 ? `one of the keys ${known.join(', ')}` : 'no other keys';
      const hint = guess === undefined ? `known keys here: ${known.join(', ')}` : `did you mean "${guess}"?`;
      return configProblem(file, map.locate(at), at, expected, `unknown key "${key}"`, `unknown key "${key}"; ${hint}`);
    });
  }
  const [expected, why] = issue.message.split(WHY);
  const last = path[path.length - 1];
  const value = valueAt(data, path);
  let found = describeValue(value, last);
  if (why !== undefined) found = `${found}: ${why}`;
  if (issue.code === 'invalid_value' && typeof value === 'string') {
    const guess = suggest(value, issue.values.filter((v): v is string => typeof v === 'string'));
    if (guess !== undefined) found = `${found}; did you mean "${guess}"?`;
  }
  return [configProblem(file, map.locate(path), path, expected ?? issue.message, found)];
}

/** The result of {@link analyzeDocument}. */
export interface DocumentAnalysis<T> {
  /** The schema's output; undefined when the text or the shape had problems. */
  value: T | undefined;
  /** The document as plain data after `${ENV}` substitution; undefined when it did not parse or is empty. */
  data: unknown;
  problems: ConfigProblem[];
  /** Key path -> line and column; undefined when the text is not YAML. */
  map: SourceMap | undefined;
  /** Paths (formatted) whose `${ENV}` failed: their later problems would only repeat it. */
  envFailed: ReadonlySet<string>;
}

/**
 * Parse `text` (named `file` in messages) and check it against `schema`, collecting every
 * problem. `emptyExpected` says what an empty file should have held.
 *
 * @example
 *   const a = analyzeDocument('client:\n  pingIntervalMs: 25s\n', 'tunnel.yaml', {}, schema, 'a "client" mapping');
 *   a.problems[0].message // 'expected an integer of milliseconds ..., found "25s" (a string; ...: write 25000)'
 */
export function analyzeDocument<S extends z.ZodType>(text: string, file: string, env: NodeJS.ProcessEnv, schema: S, emptyExpected: string): DocumentAnalysis<z.output<S>> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const envFailed = new Set<string>();
  if (doc.errors.length > 0) {
    const seen = new Set<string>();
    const problems: ConfigProblem[] = [];
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      const found = e.message.split('\n')[0] ?? e.message;
      const p = configProblem(file, { line: pos.line, column: pos.col }, [], 'valid YAML or JSON', found, `invalid YAML or JSON: ${found}`);
      const key = `${p.line}:${p.column}:${p.message}`;
      if (!seen.has(key)) problems.push(p);
      seen.add(key);
    }
    return { value: undefined, data: undefined, problems, map: undefined, envFailed };
  }
  const map = new SourceMap(doc, lines);
  if (doc.contents === null) {
    return { value: undefined, data: undefined, problems: [configProblem(file, { line: 1, column: 1 }, [], emptyExpected, 'an empty file')], map, envFailed };
  }
  const problems: ConfigProblem[] = [];
  for (const p of substituteEnv(doc, env)) {
    envFailed.add(formatPath(p.path));
    const pos = lines.linePos(p.offset);
    problems.push(configProblem(file, { line: pos.line, column: pos.col }, p.path, p.expected, p.found, p.message));
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    // One problem per path: the last check to fail there is the most specific.
    const byPath = new Map<string, ConfigProblem[]>();
    const knownKeysAt = (path: KeyPath): string[] => knownKeysOf(schema, path);
    for (const issue of parsed.error.issues) {
      const ps = fromIssue(issue, data, file, map, knownKeysAt).filter((p) => !envFailed.has(p.path));
      for (const p of ps) byPath.set(issue.code === 'unrecognized_keys' ? `${p.path}\u0000key` : p.path, [p]);
    }
    for (const ps of byPath.values()) problems.push(...ps);
  }
  return { value: parsed.success && problems.length === 0 ? (parsed.data) : undefined, data, problems, map, envFailed };
}
