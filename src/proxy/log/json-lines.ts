/**
 * A JSON-lines sink: one object per line, gathered and written once per event-loop turn, so a
 * burst of lines costs one write. The access log's format (one `JSON.stringify` per line, `time`
 * and `pid` fields); the event log writes through it.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { AccessLogConfig } from '../config/index.js';

/** Where lines go: a config target (`stdout`, `stderr`, `off`, a file) or a stream the caller owns. */
export type JsonLinesTarget = AccessLogConfig | { kind: 'stream'; stream: Writable };

export class JsonLines {
  #out: Writable | undefined;
  #ownsStream = false;
  #pending = '';
  #scheduled = false;

  constructor(target: JsonLinesTarget) {
    if (target.kind === 'stdout') this.#out = process.stdout;
    else if (target.kind === 'stderr') this.#out = process.stderr;
    else if (target.kind === 'stream') this.#out = target.stream;
    else if (target.kind === 'file') {
      this.#out = createWriteStream(target.path, { flags: 'a' });
      this.#ownsStream = true;
    }
  }

  get enabled(): boolean {
    return this.#out !== undefined;
  }

  write(record: object): void {
    if (this.#out === undefined) return;
    this.#pending += `${JSON.stringify(record)}\n`;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#pending === '' || this.#out === undefined) return;
    const text = this.#pending;
    this.#pending = '';
    this.#out.write(text);
  };

  /** Write what is pending and release the file (a stream the caller gave stays open). */
  close(): void {
    this.#flush();
    if (this.#ownsStream) this.#out?.end();
    this.#out = undefined;
  }
}
