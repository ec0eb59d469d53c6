/**
 * `lifeline tunnel keygen`: a self-signed key pair for the server, and the fingerprint clients pin.
 * It refuses to overwrite an existing pair without `--force`: every client pinned the old
 * fingerprint, and a silent new key would lock them all out.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, UsageError } from '../../command.js';
import type { CliIo } from '../../command.js';
import { generateKeyPair } from '../../../tunnel/keygen.js';

export const KEYGEN_HELP = `lifeline tunnel keygen: make the server's key pair and print the fingerprint clients pin

Usage:
  lifeline tunnel keygen [--out DIR] [--name HOST]... [--days N] [--force]

Flags:
  --out DIR      write DIR/tunnel.key and DIR/tunnel.crt (default .)
  --name HOST    a name or IP in the certificate, repeatable (default localhost, 127.0.0.1)
  --days N       validity in days, 1 to 36500 (default 825)
  --force        replace an existing key pair: every client pinned to the old fingerprint
                 must be given the new one
`;

export function runKeygen(argv: readonly string[], io: CliIo): number {
  const { values } = parseFlags({ args: [...argv], options: { out: { type: 'string' }, name: { type: 'string', multiple: true }, days: { type: 'string' }, force: { type: 'boolean' } }, allowPositionals: false, strict: true });
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 36_500)) throw new UsageError(`--days must be a whole number from 1 to 36500; got '${values.days ?? ''}'`, { command: 'tunnel keygen' });
  const dir = values.out ?? '.';
  const keyFile = join(dir, 'tunnel.key');
  const certFile = join(dir, 'tunnel.crt');
  const existing = [keyFile, certFile].filter((f) => existsSync(f));
  if (existing.length > 0 && values.force !== true) {
    io.err(`lifeline tunnel keygen: ${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; clients pinned to its fingerprint would be locked out by a new key. Give --force to replace it, or --out another directory.\n`);
    return 1;
  }
  const pair = generateKeyPair({ ...(values.name === undefined ? {} : { names: values.name }), ...(days === undefined ? {} : { days }) });
  mkdirSync(dir, { recursive: true });
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  writeFileSync(certFile, pair.cert, { mode: 0o644 });
  io.out(`wrote ${keyFile} and ${certFile}\nfingerprint (give the client --fingerprint):\n${pair.fingerprint}\n`);
  return 0;
}
