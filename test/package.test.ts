/**
 * The published package works for a user: `npm pack` (scripts off, from the built dist), install
 * the tarball into an empty project with `typescript`, compile a file importing every subpath
 * (strict, NodeNext, no skipLibCheck), and run the installed `lifeline` on the shipped example.
 * Also: the tarball ships LICENSE, docs/ and examples/, and every source map points at a shipped
 * file. Uses the npm registry (prefer-offline) for the dependencies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown>; bin: Record<string, string> };

function run(cmd: string, args: string[], cwd: string, timeoutMs = 240_000): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}${r.error === undefined ? '' : `\n${r.error.message}`}` };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(full));
    else out.push(full);
  }
  return out;
}

test('the packed tarball installs, type-checks without skipLibCheck and runs `lifeline proxy --check` on its example', { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'lifeline-pack-'));
  try {
    const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
    assert.equal(pack.status, 0, pack.out);
    const tarball = join(work, (JSON.parse(pack.out.slice(pack.out.indexOf('['), pack.out.lastIndexOf(']') + 1)) as { filename: string }[])[0]?.filename ?? '');
    assert.ok(existsSync(tarball), `npm pack made no tarball: ${pack.out}`);

    const project = join(work, 'app');
    run('mkdir', ['-p', project], work);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, 'typescript@5', '@types/node@20'], project, 480_000);
    assert.equal(install.status, 0, install.out);

    const installed = join(project, 'node_modules', PKG.name);
    for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md', 'docs/config.md', 'docs/tunnel.md', 'examples/full.yaml', 'examples/demo.yaml', 'examples/tls/cert.pem']) {
      assert.ok(existsSync(join(installed, f)), `the package ships ${f}`);
    }
    const maps = filesUnder(join(installed, 'dist')).filter((f) => f.endsWith('.map'));
    assert.ok(maps.length > 50, `source maps found: ${maps.length}`);
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const s of sources) assert.ok(existsSync(resolve(dirname(map), s)), `${map} points at ${s}, which is not shipped`);
    }

    const subpaths = Object.keys(PKG.exports).filter((k) => k !== './package.json');
    const imports = subpaths.map((k, i) => `import * as m${i} from '${k === '.' ? PKG.name : `${PKG.name}/${k.slice(2)}`}';`);
    writeFileSync(join(project, 'index.ts'), `${imports.join('\n')}\nexport const loaded: object[] = [${subpaths.map((_k, i) => `m${i}`).join(', ')}];\n`);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['index.ts'] }),
    );
    const tsc = run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], project);
    assert.equal(tsc.status, 0, `tsc in a fresh project:\n${tsc.out}`);

    const check = run('npx', ['--no-install', 'lifeline', 'proxy', '--check', '--config', `node_modules/${PKG.name}/examples/full.yaml`], project, 60_000);
    assert.equal(check.status, 0, check.out);
    assert.match(check.out, /full\.yaml: ok/);

    for (const side of ['server', 'client']) {
      const tunnel = run('npx', ['--no-install', 'lifeline', 'tunnel', side, '--check', '--config', `node_modules/${PKG.name}/examples/tunnel.yaml`], project, 60_000);
      assert.equal(tunnel.status, 0, tunnel.out);
      assert.match(tunnel.out, new RegExp(`tunnel ${side}: ok`));
    }
    const doctor = run('npx', ['--no-install', 'lifeline', 'doctor', '--json'], project, 60_000);
    assert.equal(doctor.status, 0, doctor.out);
    const report = JSON.parse(doctor.out.slice(doctor.out.indexOf('{'), doctor.out.lastIndexOf('}') + 1)) as { nativeAddon: { available: boolean; detail: string } };
    assert.equal(typeof report.nativeAddon.available, 'boolean', doctor.out);

    for (const command of [['proxy'], ['tunnel'], ['tunnel', 'server'], ['tunnel', 'client'], ['doctor']]) {
      const help = run('npx', ['--no-install', 'lifeline', ...command, '--help'], project, 60_000);
      assert.equal(help.status, 0, help.out);
      for (const named of help.out.match(/\b(?:docs|examples)\/[\w./-]+\.(?:md|yaml)\b/g) ?? []) {
        assert.ok(existsSync(join(installed, named)), `lifeline ${command.join(' ')} --help names ${named}, which the package must ship`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
