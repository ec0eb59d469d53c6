/**
 * The dashboard's static files (`assets/dashboard/` at the package root, listed in package.json
 * `files`): plain HTML, CSS and an ES module, served as they are, so users need no build step and
 * the page loads nothing from the internet. Read once, when the admin listener starts.
 *
 * Why files rather than a generated TS module: they stay readable and editable as what they are
 * (a browser script, a style sheet), and tsc does not copy them, so they live outside `src/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LifelineError } from '../../core/errors.js';

export interface Asset {
  type: string;
  body: Buffer;
}

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** The package's `assets/dashboard` folder: the nearest one above this module (src/ or dist/src/). */
export function dashboardDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'assets', 'dashboard');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  throw new LifelineError('ERR_DASHBOARD_ASSETS', `the dashboard's files (assets/dashboard/index.html) were not found above ${fileURLToPath(import.meta.url)}`);
}

/** URL path (`/`, `/dashboard.js`, ...) to file. */
export function loadDashboard(): Map<string, Asset> {
  const dir = dashboardDir();
  const out = new Map<string, Asset>();
  for (const [name, type] of Object.entries(FILES)) {
    const body = readFileSync(join(dir, name));
    out.set(name === 'index.html' ? '/' : `/${name}`, { type, body });
  }
  return out;
}
