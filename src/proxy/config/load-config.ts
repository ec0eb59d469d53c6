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
import { LifelineError } from '../../core/errors.js';
import { EndpointsFileError } from '../discovery/discovery-errors.js';
import { parseEndpointsFile } from '../discovery/endpoints-file.js';
import { checkRelations } from './check-relations.js';
import { ConfigError } from './config-error.js';
import type { ConfigProblem } from './config-error.js';
import { resolveConfig } from './resolve-config.js';
import { configSchema } from './schema.js';
import { analyzeDocument, configProblem, describeValue } from '../../core/config/analyze-document.js';
import { formatPath } from './source-map.js';
import type { KeyPath, SourceMap } from './source-map.js';
import type { ClusterConfig, ProxyConfig } from './types.js';

interface Analysis {
  config: ProxyConfig | undefined;
  problems: ConfigProblem[];
  map: SourceMap | undefined;
}

const problem = configProblem;
export { describeValue };

function analyze(text: string, file: string, env: NodeJS.ProcessEnv): Analysis {
  const a = analyzeDocument(text, file, env, configSchema, 'a mapping with at least "listeners" and "clusters"');
  if (a.data === undefined) return { config: undefined, problems: a.problems, map: a.map };
  const problems = [...a.problems];
  const map = a.map as SourceMap;
  for (const r of checkRelations(a.data)) {
    if (a.envFailed.has(formatPath(r.path))) continue;
    problems.push(problem(file, map.locate(r.path), r.path, r.expected, r.found, r.message));
  }
  if (problems.length > 0 || a.value === undefined) return { config: undefined, problems, map };
  return { config: resolveConfig(a.value, file), problems, map };
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
