/**
 * Loading a proxy configuration: read, parse (YAML or JSON: JSON is YAML), substitute `${ENV}`,
 * check the shape, check the rules across keys, fill in defaults.
 *
 * Invariant: either the caller gets a complete `ProxyConfig`, or a `ConfigError` listing every
 * problem found, each placed at a file, line and column. Nothing is half-applied. `parseConfig`
 * touches no files; `loadConfig` also reads the TLS files the configuration names, so that an
 * unreadable or mismatched key is a configuration error rather than a failure at start-up.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { LifelineError } from '../../core/errors.js';
import { EndpointsFileError } from '../discovery/discovery-errors.js';
import { parseEndpointsFile } from '../discovery/endpoints-file.js';
import { checkRelations } from './check-relations.js';
import { ConfigError } from './config-error.js';
import type { ConfigProblem } from './config-error.js';
import { substituteEnv } from './env-substitute.js';
import { resolveConfig } from './resolve-config.js';
import { configSchema, knownKeysAt, WHY } from './schema.js';
import { formatPath, SourceMap } from './source-map.js';
import type { KeyPath } from './source-map.js';
import { suggest } from './suggest.js';
import type { ClusterConfig, ProxyConfig } from './types.js';

interface Analysis {
  config: ProxyConfig | undefined;
  problems: ConfigProblem[];
  map: SourceMap | undefined;
}

function problem(file: string, at: { line: number; column: number }, path: KeyPath, expected: string, found: string, message?: string): ConfigProblem {
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

function valueAt(data: unknown, path: KeyPath): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function fromIssue(issue: z.core.$ZodIssue, data: unknown, file: string, map: SourceMap): ConfigProblem[] {
  const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(path);
    return issue.keys.map((key) => {
      const guess = suggest(key, known);
      const at = [...path, key];
      const expected = known.length > 0 ? `one of the keys ${known.join(', ')}` : 'no other keys';
      const hint = guess === undefined ? `known keys here: ${known.join(', ')}` : `did you mean "${guess}"?`;
      return problem(file, map.locate(at), at, expected, `unknown key "${key}"`, `unknown key "${key}"; ${hint}`);
    });
  }
  const [expected, why] = issue.message.split(WHY);
  const last = path[path.length - 1];
  let found = describeValue(valueAt(data, path), last);
  if (why !== undefined) found = `${found}: ${why}`;
  return [problem(file, map.locate(path), path, expected ?? issue.message, found)];
}

function analyze(text: string, file: string, env: NodeJS.ProcessEnv): Analysis {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const seen = new Set<string>();
    const problems: ConfigProblem[] = [];
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      const found = e.message.split('\n')[0] ?? e.message;
      const p = problem(file, { line: pos.line, column: pos.col }, [], 'valid YAML or JSON', found, `invalid YAML or JSON: ${found}`);
      const key = `${p.line}:${p.column}:${p.message}`;
      if (!seen.has(key)) problems.push(p);
      seen.add(key);
    }
    return { config: undefined, problems, map: undefined };
  }
  const map = new SourceMap(doc, lines);
  if (doc.contents === null) {
    const expected = 'a mapping with at least "listeners" and "clusters"';
    return { config: undefined, problems: [problem(file, { line: 1, column: 1 }, [], expected, 'an empty file')], map };
  }
  const problems: ConfigProblem[] = [];
  const envFailed = new Set<string>();
  for (const p of substituteEnv(doc, env)) {
    envFailed.add(formatPath(p.path));
    const pos = lines.linePos(p.offset);
    problems.push(problem(file, { line: pos.line, column: pos.col }, p.path, p.expected, p.found, p.message));
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    // One problem per path: the last check to fail there is the most specific.
    const byPath = new Map<string, ConfigProblem[]>();
    for (const issue of parsed.error.issues) {
      const ps = fromIssue(issue, data, file, map).filter((p) => !envFailed.has(p.path));
      for (const p of ps) byPath.set(issue.code === 'unrecognized_keys' ? `${p.path}\u0000key` : p.path, [p]);
    }
    for (const ps of byPath.values()) problems.push(...ps);
  }
  for (const r of checkRelations(data)) {
    if (envFailed.has(formatPath(r.path))) continue;
    problems.push(problem(file, map.locate(r.path), r.path, r.expected, r.found, r.message));
  }
  if (problems.length > 0 || !parsed.success) return { config: undefined, problems, map };
  return { config: resolveConfig(parsed.data, file), problems, map };
}

/**
 * Parse and validate configuration text (YAML or JSON) without touching any file. `file` names
 * the source in error messages and anchors relative paths. Throws `ConfigError` listing every
 * problem.
 *
 * @example
 *   const config = parseConfig('listeners: [...]\nclusters: {...}', 'proxy.yaml', { PORT: '8080' });
 */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): ProxyConfig {
  const { config, problems } = analyze(text, file, env);
  if (config === undefined || problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Read, validate and complete a configuration file, and check that the TLS files it names can be
 * read and hold a usable certificate, key and CA bundle. Throws `ConfigError` listing every
 * problem.
 *
 * @example
 *   const config = await loadConfig('examples/demo.yaml');
 *   config.listeners[0].port // 8080
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ProxyConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ConfigError([problem(file, { line: 1, column: 1 }, [], 'a readable configuration file', why, `cannot read the configuration file: ${why}`)], { cause: err });
  }
  const { config, problems, map } = analyze(text, file, env);
  if (config === undefined || map === undefined || problems.length > 0) throw new ConfigError(problems);
  const fileProblems = [...(await checkTlsFiles(config, file, map)), ...(await checkEndpointsFiles(config, file, map))];
  if (fileProblems.length > 0) throw new ConfigError(fileProblems);
  return config;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readable(path: string): Promise<{ text: string } | { why: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { why: typeof code === 'string' ? `${path} (${code}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory' : 'cannot read'})` : path };
  }
}

async function checkTlsFiles(config: ProxyConfig, file: string, map: SourceMap): Promise<ConfigProblem[]> {
  const out: ConfigProblem[] = [];
  const read = async (path: string, at: KeyPath, what: string): Promise<string | undefined> => {
    const r = await readable(path);
    if ('text' in r) {
      if (!r.text.includes('-----BEGIN ')) {
        out.push(problem(file, map.locate(at), at, what, `${path}, which holds no PEM block ("-----BEGIN ...")`));
        return undefined;
      }
      return r.text;
    }
    out.push(problem(file, map.locate(at), at, what, `unreadable file ${r.why}`));
    return undefined;
  };
  const checkCa = (ca: string, path: string, at: KeyPath): void => {
    try {
      createSecureContext({ ca });
      new X509Certificate(ca);
    } catch (err) {
      out.push(problem(file, map.locate(at), at, 'a PEM CA bundle', `${path}: ${reason(err)}`));
    }
  };
  for (const [i, l] of config.listeners.entries()) {
    if (l.tls === null) continue;
    const at: KeyPath = ['listeners', i, 'tls'];
    const cert = await read(l.tls.certFile, [...at, 'certFile'], 'a readable PEM certificate file');
    const key = await read(l.tls.keyFile, [...at, 'keyFile'], 'a readable PEM private key file');
    const ca = l.tls.caFile === null ? null : await read(l.tls.caFile, [...at, 'caFile'], 'a readable PEM CA bundle');
    if (cert === undefined || key === undefined || ca === undefined) continue;
    const certAt: KeyPath = [...at, 'certFile'];
    const keyAt: KeyPath = [...at, 'keyFile'];
    let x509: X509Certificate | undefined;
    try {
      x509 = new X509Certificate(cert);
    } catch (err) {
      out.push(problem(file, map.locate(certAt), certAt, 'a PEM certificate', `${l.tls.certFile}: ${reason(err)}`));
    }
    try {
      const privateKey = createPrivateKey(key);
      if (x509 !== undefined && !x509.checkPrivateKey(privateKey)) {
        out.push(problem(file, map.locate(keyAt), keyAt, `the private key of certFile ${l.tls.certFile}`, `${l.tls.keyFile}, the key of another certificate`));
      }
    } catch (err) {
      out.push(problem(file, map.locate(keyAt), keyAt, 'a PEM private key (unencrypted)', `${l.tls.keyFile}: ${reason(err)}`));
    }
    if (ca !== null) checkCa(ca, l.tls.caFile ?? '', [...at, 'caFile']);
  }
  for (const c of config.clusters) {
    if (c.tls.caFile === null) continue;
    const at: KeyPath = ['clusters', c.name, 'tls', 'caFile'];
    const ca = await read(c.tls.caFile, at, 'a readable PEM CA bundle');
    if (ca !== undefined) checkCa(ca, c.tls.caFile, at);
  }
  return out;
}

/** An `endpointsFile` must be readable and valid at start (later a bad one is refused and the old set kept). */
async function checkEndpointsFiles(config: ProxyConfig, file: string, map: SourceMap): Promise<ConfigProblem[]> {
  const out: ConfigProblem[] = [];
  for (const c of config.clusters) {
    if (c.endpointsFile === null) continue;
    const at: KeyPath = ['clusters', c.name, 'endpointsFile'];
    const r = await readable(c.endpointsFile);
    if (!('text' in r)) {
      out.push(problem(file, map.locate(at), at, 'a readable JSON or YAML endpoints file', `unreadable file ${r.why}`));
      continue;
    }
    try {
      parseEndpointsFile(r.text, c.endpointsFile);
    } catch (err) {
      if (!(err instanceof EndpointsFileError)) throw err;
      const detail = err.message.split('\n').slice(1).join('; ');
      out.push(problem(file, map.locate(at), at, 'a valid endpoints file', `${c.endpointsFile}, refused: ${detail}`));
    }
  }
  return out;
}

/**
 * The cluster a route names. Every route of a loaded configuration names an existing cluster,
 * so this throws only for a configuration built by hand.
 *
 * @example const cluster = getCluster(config, config.listeners[0].routes[0].cluster);
 */
export function getCluster(config: ProxyConfig, name: string): ClusterConfig {
  const found = config.clusters.find((c) => c.name === name);
  if (found === undefined) throw new LifelineError('ERR_CONFIG', `no cluster named "${name}"`);
  return found;
}
