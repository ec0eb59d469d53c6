#!/usr/bin/env node
// `npm start`'s first step: rebuild dist/ only when a source is newer than it, so that starting
// an unchanged checkout takes well under a second instead of a full tsc run (about 9 s).
// Compared: every file under src/ plus tsconfig.json and package.json, against the oldest
// of the build outputs `npm start` runs (a partial build counts as stale).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function mtime(file) {
  try {
    return statSync(path.join(root, file)).mtimeMs;
  } catch {
    return undefined;
  }
}

const sources = Math.max(newestUnder(path.join(root, 'src')), mtime('tsconfig.json') ?? 0, mtime('package.json') ?? 0);
const outputs = ['dist/src/cli/main.js', 'dist/src/index.js'].map(mtime);
const built = outputs.every((t) => t !== undefined) ? Math.min(...outputs) : undefined;
if (built === undefined || sources > built) {
  console.log(built === undefined ? 'lifeline: no build yet; building' : 'lifeline: sources changed since the last build; building');
  const run = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  process.exit(run.status ?? 1);
}
