// Where lifeline's HTTP/2 front spends its CPU: lifeline (h2c listener, workers: 1) pinned to CPU 0
// with --cpu-prof, an HTTP/1.1 Node backend serving BYTES and h2load -c50 -m10 -D6 on CPU 1; then
// the top self-time entries of the profile. Development aid for the figures in bench/RESULTS.md.
//   npm run build && node bench/http2/profile-front.mjs [BYTES=65536]
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const size = Number(process.argv[2] ?? 65_536);
if (!Number.isInteger(size) || size < 1) throw new Error('BYTES: a positive integer');
const dir = mkdtempSync(join(tmpdir(), 'lifeline-h2prof-'));
const backend = spawn('taskset', ['-c', '1', process.execPath, '-e', `
  const body = Buffer.alloc(${size}, 97);
  require('node:http').createServer({ keepAliveTimeout: 60000 }, (q, r) => { r.setHeader('content-length', body.length); r.end(body); })
    .listen(0, '127.0.0.1', function () { console.log(this.address().port); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
const [line] = await once(backend.stdout, 'data');
const conf = join(dir, 'front.yaml');
const port = 20_000 + Math.floor(Math.random() * 20_000);
writeFileSync(conf, `listeners:\n  - name: main\n    address: 127.0.0.1:${port}\n    routes:\n      - cluster: app\nclusters:\n  app:\n    pool: { maxIdlePerEndpoint: 512 }\n    endpoints:\n      - address: 127.0.0.1:${String(line).trim()}\naccessLog: { target: off }\n`);
const proxy = spawn('taskset', ['-c', '0', process.execPath, '--max-semi-space-size=4', '--cpu-prof', `--cpu-prof-dir=${dir}`, join(ROOT, 'bin', 'lifeline.js'), 'proxy', '--config', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
await new Promise((resolve) => setTimeout(resolve, 1_500));
const out = await new Promise((resolve) => execFile('taskset', ['-c', '1', 'h2load', '-c50', '-m10', '-D', '6', `http://127.0.0.1:${port}/`], { timeout: 30_000 }, (error, stdout) => resolve(stdout || String(error))));
process.stdout.write(`${out.split('\n').filter((l) => /finished in|requests:/.test(l)).join('\n')}\n`);
proxy.kill('SIGTERM');
await once(proxy, 'exit');
backend.kill();

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (file === undefined) throw new Error('no profile written');
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const timeOf = new Map();
profile.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const self = new Map();
for (const node of profile.nodes) {
  const key = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').slice(-2).join('/')}`.trim();
  self.set(key, (self.get(key) ?? 0) + (timeOf.get(node.id) ?? 0));
}
const busy = [...self].filter(([k]) => !k.startsWith('(idle)'));
const total = busy.reduce((sum, [, t]) => sum + t, 0);
process.stdout.write(`busy ${(total / 1000).toFixed(0)} ms; top self time:\n`);
for (const [key, t] of busy.sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`${((100 * t) / total).toFixed(1).padStart(5)} %  ${key}\n`);
rmSync(dir, { recursive: true, force: true });
