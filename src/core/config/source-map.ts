/**
 * From a key path to a line and column in the YAML (or JSON) text.
 *
 * A problem with a mapping's value is placed at its key (`connectTimeoutMs:`), one with a list
 * item at the item; a path that does not exist in the file (a missing key) falls back to the
 * nearest ancestor that does.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node as YamlNode } from 'yaml';

export type KeyPath = readonly (string | number)[];

/** `clusters.demo.endpoints[0].address`; odd keys are quoted: `clusters["my cluster"]`. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Maps key paths of one parsed document to 1-based line and column. */
export class SourceMap {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Position of the node at `path`, or of its nearest existing ancestor. */
  locate(path: KeyPath): { line: number; column: number } {
    let node: unknown = this.doc.contents;
    let offset = node !== null && typeof node === 'object' && 'range' in node ? startOf(node as YamlNode) : 0;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) break;
        if (isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item: unknown = node.items[seg];
        if (item === undefined || item === null || typeof item !== 'object' || !('range' in item)) break;
        offset = startOf(item as YamlNode);
        node = item;
      } else break;
    }
    const pos = this.lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  }

  /** Position of the value (not the key) at `path`, falling back like {@link locate}. */
  locateValue(path: KeyPath): { line: number; column: number } {
    const node = this.doc.getIn(path, true);
    if (node !== null && typeof node === 'object' && 'range' in node) {
      const pos = this.lines.linePos(startOf(node as YamlNode));
      return { line: pos.line, column: pos.col };
    }
    return this.locate(path);
  }
}

function startOf(node: YamlNode): number {
  return node.range ? node.range[0] : 0;
}
