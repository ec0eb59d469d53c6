/**
 * `${VAR}` and `${VAR:-default}` in the values of a parsed YAML document.
 *
 * Why on the parsed document and not on the text: a variable's value can never change the
 * structure of the file (a value holding ": " or a newline stays one value), comments are left
 * alone, and line numbers stay exact. Only values are substituted, never keys.
 *
 * Rules: `${VAR:-default}` uses the default when VAR is unset or empty (as the shell does);
 * `$${` writes a literal `${`. An unquoted value is typed after substitution as YAML would type
 * it (`port: ${PORT}` with PORT=8080 is the integer 8080, `enabled: ${TLS}` with TLS=true is a
 * boolean); a quoted value stays a string. An unset variable without a default is an error.
 */
import { isPair, isScalar, isSeq, visit } from 'yaml';
import type { Document } from 'yaml';
import type { KeyPath } from './source-map.js';

/** A reference that could not be substituted, with the scalar's path and text offset. */
export interface EnvProblem {
  path: KeyPath;
  offset: number;
  expected: string;
  found: string;
  message: string;
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Substitute in place; returns the problems (the affected values are left as written). */
export function substituteEnv(doc: Document, env: NodeJS.ProcessEnv): EnvProblem[] {
  const problems: EnvProblem[] = [];
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const path = pathOf(ancestors, node);
      const offset = node.range ? node.range[0] : 0;
      const text = node.value;
      let failed = false;
      const out = text.replace(REFERENCE, (match: string, body: string | undefined) => {
        if (match === '$${') return '${';
        if (body === undefined) {
          failed = true;
          problems.push({ path, offset, expected: '"${NAME}" or "${NAME:-default}"', found: 'a "${" without its closing "}"', message: 'expected "${NAME}" or "${NAME:-default}", found a "${" without its closing "}"' });
          return match;
        }
        const sep = body.indexOf(':-');
        const name = sep < 0 ? body : body.slice(0, sep);
        if (!NAME.test(name)) {
          failed = true;
          const found = `"${match}"`;
          problems.push({ path, offset, expected: 'a variable name of letters, digits and "_" (not starting with a digit)', found, message: `expected "\${NAME}" or "\${NAME:-default}" with NAME of letters, digits and "_", found ${found}` });
          return match;
        }
        const value = env[name];
        if (sep >= 0) return value === undefined || value === '' ? body.slice(sep + 2) : value;
        if (value === undefined) {
          failed = true;
          problems.push({
            path,
            offset,
            expected: `environment variable ${name} to be set`,
            found: `${name} unset`,
            message: `environment variable ${name} is not set and has no default (write \${${name}:-default} to give one)`,
          });
          return match;
        }
        return value;
      });
      if (failed) return;
      node.value = node.type === 'PLAIN' ? typePlain(out) : out;
    },
  });
  return problems;
}

/** Type a substituted unquoted value the way YAML's core schema types a plain scalar. */
function typePlain(text: string): unknown {
  if (/^[-+]?[0-9]+$/.test(text)) return Number(text);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^(null|Null|NULL|~)$/.test(text)) return null;
  return text;
}

function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const path: (string | number)[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const a = chain[i];
    const next = chain[i + 1];
    if (isPair(a) && isScalar(a.key)) path.push(String(a.key.value));
    else if (isSeq(a)) path.push(a.items.indexOf(next));
  }
  return path;
}
