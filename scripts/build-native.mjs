#!/usr/bin/env node
// Build the optional native addon (build/Release/lifeline_tcp.node) at `npm install`.
//
// Why and invariants:
// - The addon is optional: without it lifeline falls back to socket.setKeepAlive() and says so
//   with one runtime warning. So this script NEVER fails the install: on any failure it prints one
//   warning (the full build output goes to build/native-build.log) and exits 0.
// - It must work offline: node-gyp would otherwise download Node's headers. When npm has not set
//   a nodedir, and the running Node's install prefix has its headers (<prefix>/include/node), we
//   point node-gyp there. The addon uses only node_api.h, which every Node ships.
// - Finding node-gyp, first hit wins: npm's own copy (npm_config_node_gyp, set by npm in lifecycle
//   scripts), `node-gyp` on PATH (npm puts its bundled one there too), the copy bundled inside the
//   npm next to this Node, and last `npm exec --yes=false node-gyp` (last because it may ask the
//   registry; --yes=false means it never installs anything).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_TIMEOUT_MS = 10 * 60_000;
const isWindows = process.platform === 'win32';

/** Ways to run node-gyp, most preferred first. Each is [label, command, argsBefore]. */
function nodeGypCandidates() {
  const found = [];
  const npmGyp = process.env.npm_config_node_gyp;
  if (npmGyp && existsSync(npmGyp)) found.push(['npm_config_node_gyp', process.execPath, [npmGyp]]);
  found.push(['node-gyp on PATH', isWindows ? 'node-gyp.cmd' : 'node-gyp', []]);
  const npmCliDirs = [];
  if (process.env.npm_execpath) npmCliDirs.push(path.dirname(path.dirname(process.env.npm_execpath)));
  const prefix = path.dirname(path.dirname(process.execPath));
  npmCliDirs.push(path.join(prefix, 'lib', 'node_modules', 'npm'), path.join(path.dirname(process.execPath), 'node_modules', 'npm'));
  for (const dir of npmCliDirs) {
    const script = path.join(dir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(script)) found.push([`npm's bundled node-gyp (${script})`, process.execPath, [script]]);
  }
  found.push(['npm exec node-gyp', isWindows ? 'npm.cmd' : 'npm', ['exec', '--yes=false', 'node-gyp', '--']]);
  return found;
}

// The environment for node-gyp. An empty npm_config_nodedir would beat our --nodedir and make
// node-gyp download headers, so it is dropped (any spelling: node-gyp ignores case).
const env = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !(k.toLowerCase() === 'npm_config_nodedir' && !v)));

/** `--nodedir=<prefix>` when npm gave none and the running Node's headers are on disk. */
function nodedirArgs() {
  if (Object.keys(env).some((k) => k.toLowerCase() === 'npm_config_nodedir')) return [];
  const prefix = path.dirname(path.dirname(process.execPath));
  const headers = path.join(prefix, 'include', 'node');
  const complete = ['node_api.h', 'common.gypi'].every((f) => existsSync(path.join(headers, f)));
  return complete ? [`--nodedir=${prefix}`] : [];
}

function build() {
  const log = [];
  for (const [label, command, before] of nodeGypCandidates()) {
    const args = [...before, 'rebuild', ...nodedirArgs()];
    const run = spawnSync(command, args, {
      cwd: root,
      encoding: 'utf8',
      timeout: BUILD_TIMEOUT_MS,
      shell: isWindows,
      env,
    });
    log.push(`$ ${command} ${args.join(' ')}   # ${label}`);
    if (run.error && run.error.code === 'ENOENT') {
      log.push('  (not found)');
      continue;
    }
    log.push(run.stdout ?? '', run.stderr ?? '');
    if (run.error) return { ok: false, reason: `${label} failed to run: ${run.error.message}`, log };
    if (run.status !== 0) {
      // `npm exec` exits non-zero when node-gyp is not available at all: that is "not found".
      if (label === 'npm exec node-gyp' && !existsSync(path.join(root, 'build', 'Makefile'))) {
        return { ok: false, reason: 'node-gyp was not found (looked in npm, PATH and npm exec)', log };
      }
      return { ok: false, reason: `${label} exited with ${run.status ?? run.signal}`, log };
    }
    const output = path.join(root, 'build', 'Release', 'lifeline_tcp.node');
    if (!existsSync(output)) return { ok: false, reason: `node-gyp succeeded but ${output} is missing`, log };
    return { ok: true, output, log };
  }
  return { ok: false, reason: 'node-gyp was not found', log };
}

function writeLog(lines) {
  try {
    mkdirSync(path.join(root, 'build'), { recursive: true });
    const file = path.join(root, 'build', 'native-build.log');
    writeFileSync(file, lines.join('\n') + '\n');
    return file;
  } catch {
    return undefined;
  }
}

let result;
try {
  result = build();
} catch (error) {
  result = { ok: false, reason: String(error), log: [String(error?.stack ?? error)] };
}
const logFile = writeLog(result.log);
if (result.ok) {
  console.log(`lifeline: built native TCP keepalive addon (${path.relative(root, result.output)})`);
} else {
  console.warn(
    `lifeline: WARNING: the optional native TCP keepalive addon was not built (${result.reason}). ` +
      'lifeline still works, but TCP keepalive falls back to socket.setKeepAlive(): only the idle time ' +
      'is set, not the probe interval, count or TCP_USER_TIMEOUT.' +
      (logFile ? ` Build output: ${logFile}` : ''),
  );
  // npm shows nothing an install script prints when it succeeds (stdout and stderr alike, npm 7
  // to 11), so the one line a user must see goes to the terminal itself when there is one. With
  // no terminal (CI), `npx lifeline doctor` says the same.
  try {
    writeFileSync('/dev/tty', `lifeline: warning: native TCP keepalive addon not built (${result.reason}); only the keepalive idle time can be set. Details: npx lifeline doctor\n`);
  } catch {
    // No controlling terminal (CI, Windows): nothing more to do.
  }
}
process.exit(0);
