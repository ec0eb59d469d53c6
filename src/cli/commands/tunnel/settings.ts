/**
 * The settings of `lifeline tunnel server|client`: one table per sub-command maps each setting
 * (named as the library option, `pingIntervalMs`) to its flag (`--ping-interval`), so that flags,
 * the `--config` file and the help text cannot drift apart.
 *
 * The config file goes through the same loader as the proxy's (src/core/config): YAML or JSON,
 * `${ENV}`, every problem at once with file:line:col and "did you mean". Flags win over the file.
 * A bad value later (a file that cannot be read, a range the library checks) is reported by where
 * it came from: `--ping-interval: ...` for a flag, `tunnel.yaml:4:3: client.pingIntervalMs: ...`
 * for the file.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { analyzeDocument, WHY } from '../../../core/config/analyze-document.js';
import { formatProblem } from '../../../core/config/config-error.js';
import type { ConfigProblem } from '../../../core/config/config-error.js';
import type { SourceMap } from '../../../core/config/source-map.js';
import { suggest } from '../../../core/config/suggest.js';
import { InvalidOptionError } from '../../../core/errors.js';
import { parseHostPort } from '../../../tunnel/address.js';
import { parseDurationMs, parseFlags, UsageError } from '../../command.js';

export type Kind = 'string' | 'file' | 'duration' | 'integer' | 'boolean' | 'list' | 'hostPort' | 'enum';

/** One setting: its name in the config file (the library's), its flag, and how to read it. */
export interface Field {
  key: string;
  flag: string;
  short?: string;
  kind: Kind;
  values?: readonly [string, ...string[]];
  min?: number;
  max?: number;
  /** The argument shown in help: `DUR`, `FILE`, `HOST:PORT`. */
  arg?: string;
  /** A boolean whose flag turns it off (`--no-pipeline-opens` sets `pipelineOpens` false). */
  negated?: boolean;
  help: string;
}

export type Value = string | number | boolean | string[];

/** Where a value came from: a flag, or a place in the config file. */
export type Origin = { flag: string } | { file: string; line: number; column: number; path: string };

export class Settings {
  readonly values = new Map<string, Value>();
  readonly origins = new Map<string, Origin>();
  /** Problems found after loading (unreadable files, library ranges), reported all at once. */
  readonly #problems: string[] = [];

  constructor(
    readonly command: string,
    readonly fields: readonly Field[],
  ) {}

  str(key: string): string | undefined {
    const v = this.values.get(key);
    return typeof v === 'string' ? v : undefined;
  }

  num(key: string): number | undefined {
    const v = this.values.get(key);
    return typeof v === 'number' ? v : undefined;
  }

  bool(key: string): boolean {
    return this.values.get(key) === true;
  }

  list(key: string): string[] {
    const v = this.values.get(key);
    return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  }

  /** How to name `key` in a message: `--ping-interval` or `tunnel.yaml:4:3: client.pingIntervalMs`. */
  where(key: string): string {
    const origin = this.origins.get(key);
    if (origin === undefined) return `--${this.fields.find((f) => f.key === key)?.flag ?? key}`;
    return 'flag' in origin ? origin.flag : `${origin.file}:${origin.line}:${origin.column}: ${origin.path}`;
  }

  /** Record a problem with `key`'s value; {@link check} throws them together. */
  problem(key: string, message: string): void {
    this.#problems.push(`${this.where(key)}: ${message}`);
  }

  /** A problem not tied to one setting (a missing required one is tied to its flag). */
  general(message: string): void {
    this.#problems.push(message);
  }

  /** Throw every problem recorded so far as one usage error. */
  check(): void {
    if (this.#problems.length === 0) return;
    const head = this.#problems.length === 1 ? '' : `${this.#problems.length} problems:\n`;
    throw new UsageError(head + this.#problems.join('\n'), { command: this.command });
  }

  /** Read the text of the file named by setting `key`, or record why not. */
  readFile(key: string): string | undefined {
    const path = this.str(key);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.problem(key, `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? (error as Error).message)}`);
      return undefined;
    }
  }

  /** Make a library object; an InvalidOptionError names the setting where the user wrote it. */
  build<T>(make: () => T, optionToKey: Record<string, string> = {}): T {
    try {
      return make();
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      // `TunnelClient.pingIntervalMs` or `TunnelServer.allow[2]` -> the setting's key.
      const [where, rest = ''] = error.option.split('.', 2);
      const name = /^[A-Za-z]+/.exec(rest)?.[0] ?? rest;
      const key = optionToKey[name] ?? name;
      const message = where === undefined ? error.message : error.message.replaceAll(`${where}.`, '');
      if (this.fields.some((f) => f.key === key)) this.problem(key, message);
      else this.general(message);
      this.check();
      throw error;
    }
  }
}

function flagSpec(fields: readonly Field[]): Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> {
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    check: { type: 'boolean' },
  };
  for (const f of fields) {
    spec[f.flag] = { type: f.kind === 'boolean' ? 'boolean' : 'string', ...(f.kind === 'list' ? { multiple: true } : {}), ...(f.short === undefined ? {} : { short: f.short }) };
  }
  return spec;
}

function fieldSchema(f: Field): z.ZodType {
  const range = (what: string): string => `${what}${f.min === undefined ? '' : ` from ${f.min}`}${f.max === undefined ? '' : ` to ${f.max}`}`;
  switch (f.kind) {
    case 'duration':
    case 'integer': {
      const text = range(f.kind === 'duration' ? 'an integer of milliseconds' : 'an integer');
      let n = z.number({ error: () => text }).int({ error: () => text });
      if (f.min !== undefined) n = n.min(f.min, { error: () => text });
      if (f.max !== undefined) n = n.max(f.max, { error: () => text });
      return n;
    }
    case 'boolean':
      return z.boolean({ error: () => 'true or false' });
    case 'list':
      return z.union([z.string(), z.array(z.string())], { error: () => 'a list of strings' });
    case 'enum':
      return z.enum(f.values ?? [''], { error: () => `one of ${(f.values ?? []).map((v) => `"${v}"`).join(', ')}` });
    case 'hostPort': {
      const text = 'a "host:port" address (IPv6 as [::1]:1080)';
      return z.string({ error: () => text }).superRefine((v, ctx) => {
        try {
          parseHostPort(f.key, v, '127.0.0.1');
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `${text}${WHY}${(error as Error).message.replace(`${f.key} `, '')}` });
        }
      });
    }
    default:
      return z.string({ error: () => (f.kind === 'file' ? 'a file path' : 'a string') }).min(1, { error: () => 'a non-empty string' });
  }
}

/** Parse flags, then load `--config`'s `section` under them. Throws UsageError with every problem. */
export function loadSettings(command: string, section: 'server' | 'client', fields: readonly Field[], argv: readonly string[], env: NodeJS.ProcessEnv = process.env): { settings: Settings; check: boolean } {
  const spec = flagSpec(fields);
  let flags: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    flags = parseFlags({ args: [...argv], options: spec, allowPositionals: false, strict: true }).values;
  } catch (error) {
    const unknown = /Unknown option '--([^']+)'/.exec((error as Error).message)?.[1];
    const guess = unknown === undefined ? undefined : suggest(unknown, Object.keys(spec));
    throw new UsageError(`${(error as Error).message}${guess === undefined ? '' : `; did you mean '--${guess}'?`}`, { command });
  }
  const settings = new Settings(command, fields);
  const flagProblems: string[] = [];
  for (const f of fields) {
    const raw = flags[f.flag];
    if (raw === undefined) continue;
    const name = `--${f.flag}`;
    try {
      settings.values.set(f.key, fromFlag(f, name, raw));
      settings.origins.set(f.key, { flag: name });
    } catch (error) {
      flagProblems.push((error as Error).message);
    }
  }
  const file = flags.config;
  if (typeof file === 'string') loadFile(settings, section, file, env, flagProblems);
  if (flagProblems.length > 0) {
    const head = flagProblems.length === 1 ? '' : `${flagProblems.length} problems:\n`;
    throw new UsageError(head + flagProblems.join('\n'), { command });
  }
  return { settings, check: flags.check === true };
}

function fromFlag(f: Field, name: string, raw: string | boolean | (string | boolean)[]): Value {
  if (f.kind === 'boolean') return f.negated === true ? raw !== true : raw === true;
  if (Array.isArray(raw)) return raw.map(String);
  const text = String(raw);
  switch (f.kind) {
    case 'duration': {
      const ms = parseDurationMs(name, text);
      checkRange(f, name, ms, text);
      return ms;
    }
    case 'integer': {
      if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a whole number; got '${text}'`);
      checkRange(f, name, Number(text), text);
      return Number(text);
    }
    case 'enum': {
      const values: readonly string[] = f.values ?? [];
      if (!values.includes(text)) {
        const guess = suggest(text, values);
        throw new UsageError(`${name} must be ${values.join(' or ')}; got '${text}'${guess === undefined ? '' : `; did you mean '${guess}'?`}`);
      }
      return text;
    }
    case 'hostPort':
      parseHostPort(name, text, '127.0.0.1');
      return text;
    case 'list':
      return [text];
    default:
      return text;
  }
}

function checkRange(f: Field, name: string, n: number, text: string): void {
  if ((f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) {
    throw new UsageError(`${name} must be from ${f.min ?? 0}${f.kind === 'duration' ? ' ms' : ''} to ${f.max ?? 'any'}${f.kind === 'duration' ? ' ms' : ''}; got '${text}'`);
  }
}

function loadFile(settings: Settings, section: 'server' | 'client', file: string, env: NodeJS.ProcessEnv, out: string[]): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    out.push(`--config: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return;
  }
  const shape: Record<string, z.ZodType> = {};
  for (const f of settings.fields) shape[f.key] = fieldSchema(f).optional();
  const sectionSchema = z.strictObject(shape, { error: () => `a mapping of ${section} settings` });
  const other = section === 'server' ? 'client' : 'server';
  // The other section may be in the same file (one file for both ends); it is checked when used.
  const schema = z.strictObject({ [section]: sectionSchema, [other]: z.unknown().optional() }, { error: () => `a mapping with a "${section}" section` });
  const a = analyzeDocument(text, file, env, schema, `a mapping with a "${section}" section`);
  const problems: ConfigProblem[] = [...a.problems];
  const data = a.value as Record<string, Record<string, unknown> | undefined> | undefined;
  if (problems.length > 0 || data === undefined || a.map === undefined) {
    problems.sort((x, y) => x.line - y.line || x.column - y.column);
    out.push(...problems.map(formatProblem));
    return;
  }
  const map: SourceMap = a.map;
  for (const [key, value] of Object.entries(data[section] ?? {})) {
    if (value === undefined || settings.values.has(key)) continue;
    const at = map.locate([section, key]);
    // As in the proxy's config (and nginx): a relative path is relative to the file naming it.
    const isPath = settings.fields.find((f) => f.key === key)?.kind === 'file' && typeof value === 'string';
    settings.values.set(key, isPath ? resolve(dirname(resolve(file)), value) : Array.isArray(value) ? value.map(String) : (value as Value));
    settings.origins.set(key, { file, line: at.line, column: at.column, path: `${section}.${key}` });
  }
}

/** Help lines generated from the table: `  --ping-interval DUR   pingIntervalMs: ...`. */
export function fieldHelp(fields: readonly Field[]): string {
  const left = (f: Field): string => `${f.short === undefined ? '' : `-${f.short}, `}--${f.flag}${f.kind === 'boolean' ? '' : ` ${f.arg ?? argOf(f)}`}`;
  // Long flags put their text on the next line, as `ls --help` does, to keep lines short.
  const width = 25;
  return fields.map((f) => (left(f).length + 2 > width ? `  ${left(f)}\n  ${''.padEnd(width)}${f.help} [${f.key}]` : `  ${left(f).padEnd(width)}${f.help} [${f.key}]`)).join('\n');
}

function argOf(f: Field): string {
  switch (f.kind) {
    case 'duration':
      return 'DUR';
    case 'integer':
      return 'N';
    case 'file':
      return 'FILE';
    case 'hostPort':
      return 'HOST:PORT';
    case 'enum':
      return (f.values ?? []).join('|');
    case 'list':
      return 'RULE';
    default:
      return 'TEXT';
  }
}
