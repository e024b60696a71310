// Issue 11, the Debian package: `make deb` (scripts/build-deb.sh: dpkg-buildpackage with debian/, from a copy of the
// source, into a private DEB_OUT), then what it holds (dpkg-deb --info / --contents), its declared dependencies, its
// unit (systemd-analyze verify) and lintian: no errors. Built once; registered in build/ only (the package is built
// from the sources, not from the tree running the test, so build-asan/ would build the very same package again).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, runKvedge, SOURCE_DIR } from './harness.mjs';

const run = promisify(execFile);

let out; // DEB_OUT
let deb; // the .deb
let info; // dpkg-deb --info
let contents; // dpkg-deb --contents: the paths
let root; // dpkg-deb -x

before(async () => {
    out = makeTempDir('kvedge-deb-');
    // lintian runs below, in its own test
    await run('make', ['-C', SOURCE_DIR, 'deb', `DEB_OUT=${out}`], {
        env: { ...process.env, KVE_DEB_LINTIAN: '0' },
        timeout: 800_000,
        maxBuffer: 64 << 20,
    }).catch((e) => {
        throw new Error(`make deb failed: ${e.message}\n${e.stdout}\n${e.stderr}`);
    });
    const debs = fs.readdirSync(out).filter((f) => /^kvedge_.*\.deb$/.test(f));
    assert.equal(debs.length, 1, `one package in ${out}: ${fs.readdirSync(out).join(', ')}`);
    deb = path.join(out, debs[0]);
    info = (await run('dpkg-deb', ['--info', deb])).stdout;
    contents = (await run('dpkg-deb', ['--contents', deb])).stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(l.indexOf('./') + 1).replace(/ -> .*$/, ''));
    root = path.join(out, 'root');
    await run('dpkg-deb', ['-x', deb, root]);
});

function field(name) {
    const m = new RegExp(`^ ${name}: (.*)$`, 'm').exec(info);
    assert.ok(m, `dpkg-deb --info shows ${name}`);
    return m[1];
}

test('issue 11 deb: make deb builds a package with the binary, the unit, both man pages, the conffile, copyright and changelog', () => {
    assert.equal(field('Package'), 'kvedge');
    assert.match(field('Version'), /^\d+\.\d+\.\d+/);
    for (const file of [
        '/usr/bin/kvedge',
        '/lib/systemd/system/kvedge.service',
        '/usr/share/man/man1/kvedge.1.gz',
        '/usr/share/man/man5/kvedge.yaml.5.gz',
        '/etc/kvedge/kvedge.yaml',
        '/usr/share/doc/kvedge/copyright',
        '/usr/share/doc/kvedge/changelog.gz',
        '/usr/lib/sysusers.d/kvedge.conf',
    ]) {
        assert.ok(contents.includes(file), `the package holds ${file}`);
    }
    // the config is a conffile: an operator's edits survive upgrades
    assert.match(info, /^\s+\d+ bytes,\s+\d+ lines\s+conffiles\s*$/m);
});

test('issue 11 deb: the package lists the conffile and enables and starts the unit per Debian policy (dh_installsystemd)', async () => {
    const ctl = path.join(out, 'control');
    await run('dpkg-deb', ['--control', deb, ctl]);
    assert.equal(fs.readFileSync(path.join(ctl, 'conffiles'), 'utf8').trim(), '/etc/kvedge/kvedge.yaml');
    const postinst = fs.readFileSync(path.join(ctl, 'postinst'), 'utf8');
    assert.match(postinst, /adduser --system --group .*kvedge/s, 'the kvedge system user');
    assert.match(postinst, /deb-systemd-helper enable 'kvedge\.service'/);
    assert.match(postinst, /deb-systemd-invoke \$_dh_action 'kvedge\.service'/);
    assert.match(postinst, /\/etc\/kvedge\/kv-token/, 'a KV token generated at installation');
    const prerm = fs.readFileSync(path.join(ctl, 'prerm'), 'utf8');
    assert.match(prerm, /deb-systemd-invoke stop 'kvedge\.service'/);
});

test('issue 11 deb: its dependencies are declared: the shared libraries (dh_shlibdeps), libjwt0 with the CVE fix, redis-server', () => {
    const depends = field('Depends').split(/,\s*/);
    const names = depends.map((d) => d.split(' ')[0]);
    for (const lib of ['libc6', 'libh2o-evloop0.13', 'libhiredis0.14', 'libjwt0', 'libssl3', 'libyaml-0-2', 'libjansson4']) {
        assert.ok(names.includes(lib), `Depends names ${lib}: ${depends.join(', ')}`);
    }
    assert.ok(depends.includes('libjwt0 (>= 1.10.2-1+deb12u1)'), 'libjwt0 at least the CVE-2024-25189 fix');
    assert.ok(names.includes('redis-server'), 'redis-server for the embedded Redis the shipped config uses');
    assert.ok(names.includes('adduser'), 'adduser for the postinst');
});

test('issue 11 deb: the packaged unit runs /usr/bin/kvedge -c /etc/kvedge/kvedge.yaml and passes systemd-analyze verify', async () => {
    const unit = fs.readFileSync(path.join(root, 'lib/systemd/system/kvedge.service'), 'utf8');
    const lines = unit.split('\n');
    assert.ok(lines.includes('ExecStart=/usr/bin/kvedge -c /etc/kvedge/kvedge.yaml'));
    assert.ok(lines.includes('Type=notify'));
    assert.ok(lines.includes('ExecReload=/bin/kill -HUP $MAINPID'));
    const dir = makeTempDir('kvedge-debunit-');
    const copy = path.join(dir, 'kvedge.service');
    const bin = path.join(root, 'usr/bin/kvedge');
    fs.writeFileSync(copy, unit.replaceAll('/usr/bin/kvedge', bin));
    // verify opens the Documentation= man pages: the packaged ones, gzipped as installed
    const env = { ...process.env, MANPATH: path.join(root, 'usr/share/man') };
    const r = await run('systemd-analyze', ['verify', copy], { env });
    assert.equal(r.stdout + r.stderr, '');
    // the packaged binary and config: the config is valid as shipped (its token file is made by the postinst)
    const version = await runKvedge(['--version'], { bin });
    assert.equal(version.code, 0);
    const cfg = fs.readFileSync(path.join(root, 'etc/kvedge/kvedge.yaml'), 'utf8');
    assert.match(cfg, /^data_dir: \/var\/lib\/kvedge$/m, 'data_dir is the unit\'s StateDirectory');
    const token = path.join(dir, 'kv-token');
    fs.writeFileSync(token, 'a'.repeat(64));
    fs.writeFileSync(path.join(dir, 'kvedge.yaml'), cfg.replaceAll('/etc/kvedge/kv-token', token));
    const checked = await runKvedge(['-t', '-c', path.join(dir, 'kvedge.yaml')], { bin });
    assert.equal(checked.code, 0, checked.stderr);
});

test('issue 11 deb: lintian reports no errors', async (t) => {
    const r = await run('lintian', ['--fail-on', 'error', '--display-info', deb], { maxBuffer: 16 << 20 }).then(
        (x) => ({ code: 0, ...x }),
        (e) => e,
    );
    const tags = (r.stdout ?? '').split('\n').filter((l) => /^[EWIPX]: /.test(l));
    for (const tag of tags) t.diagnostic(tag);
    assert.deepEqual(tags.filter((l) => l.startsWith('E: ')), [], 'no lintian errors');
    assert.equal(r.code, 0, `lintian exit ${r.code}: ${r.stderr ?? ''}`);
});
