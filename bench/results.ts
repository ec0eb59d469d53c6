/**
 * Writes one benchmark's section into bench/RESULTS.md, between markers, so each benchmark can be
 * re-run on its own without touching the others' figures. The section always carries the command
 * that produced it, the date and the machine.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const FILE = fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, Linux ${os.release()}`;
}

export function writeSection(id: string, title: string, command: string, body: string): void {
  const begin = `<!-- ${id}:begin -->`;
  const end = `<!-- ${id}:end -->`;
  const section = `${begin}\n## ${title}\n\nCommand: \`${command}\`  \nMachine: ${machineLine()}\n\n${body.trim()}\n${end}`;
  let text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '# Benchmark results\n\nEach section is written by the command it names; medians of repeated rounds on a shared, noisy 2-core machine, so read ratios, not absolutes.\n';
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start >= 0 && stop > start) text = text.slice(0, start) + section + text.slice(stop + end.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(FILE, text);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
