// Issue 11, install: `cmake --install` (what `make install` runs) of this build tree into a private DESTDIR, the
// installed binary run with the installed example config, both man pages rendered (kvedge.yaml(5) naming every key of
// --help-config), `systemd-analyze verify` on the installed unit, and the sd_notify protocol on a NOTIFY_SOCKET
// (READY=1 once serving, STOPPING=1 when the drain starts; the embedded redis-server never sees the variable).
// Each ctest run (build/, build-asan/) installs its own tree into its own temp dir.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { assertCleanExit, freePort, http, makeTempDir, runKvedge, startKvedge, waitFor } from './harness.mjs';

const run = promisify(execFile);
const BINARY_DIR = process.env.KVEDGE_BINARY_DIR;
const NOTIFY_LISTEN = process.env.KVEDGE_NOTIFY_LISTEN;

let destdir; // the DESTDIR of this run
let installed; // {bin, man1, man5, unit, config}: absolute paths under destdir
let installLog;

async function cmakeInstall() {
    const r = await run('cmake', ['--install', BINARY_DIR], { env: { ...process.env, DESTDIR: destdir } });
    return r.stdout + r.stderr;
}

before(async () => {
    assert.ok(BINARY_DIR, 'KVEDGE_BINARY_DIR is set by ctest (tests/CMakeLists.txt)');
    destdir = makeTempDir('kvedge-destdir-');
    installLog = await cmakeInstall();
    // where each file went: the manifest lists them without DESTDIR, with this tree's prefix and sysconfdir
    const manifest = fs.readFileSync(path.join(BINARY_DIR, 'install_manifest.txt'), 'utf8').split('\n').filter(Boolean);
    const find = (re) => {
        const hits = manifest.filter((f) => re.test(f));
        assert.equal(hits.length, 1, `exactly one installed file matches ${re}: ${manifest.join(', ')}`);
        return path.join(destdir, hits[0]);
    };
    installed = {
        bin: find(/\/bin\/kvedge$/),
        man1: find(/\/man1\/kvedge\.1$/),
        man5: find(/\/man5\/kvedge\.yaml\.5$/),
        unit: find(/\/lib\/systemd\/system\/kvedge\.service$/),
        config: find(/\/kvedge\/kvedge\.yaml$/),
        sysusers: find(/\/lib\/sysusers\.d\/kvedge\.conf$/),
    };
});

test('issue 11 install: cmake --install puts the binary, both man pages, the unit and the example config under DESTDIR', async () => {
    for (const [what, file] of Object.entries(installed)) {
        assert.ok(fs.statSync(file).isFile(), `${what}: ${file} is a file`);
        assert.ok(file.startsWith(destdir + '/'), `${what} is under DESTDIR`);
    }
    fs.accessSync(installed.bin, fs.constants.X_OK);
    assert.equal(path.relative(destdir, installed.config), 'etc/kvedge/kvedge.yaml', 'the config goes to /etc/kvedge');
    assert.equal(path.basename(path.dirname(installed.unit)), 'system');
    const { stdout } = await run(installed.bin, ['--version'], { env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
    assert.match(stdout, /^kvedge \d+\.\d+\.\d+/);
});

test('issue 11 install: the installed sysusers.d file makes the kvedge system user the unit runs as', async () => {
    const root = makeTempDir('kvedge-sysroot-');
    fs.mkdirSync(path.join(root, 'etc'));
    const r = await run('systemd-sysusers', [`--root=${root}`, '--dry-run', installed.sysusers]);
    assert.match(r.stdout + r.stderr, /Creating user 'kvedge' \(kvedge daemon\)/);
    assert.match(fs.readFileSync(installed.unit, 'utf8'), /^User=kvedge$/m);
});

test('issue 11 install: a second install keeps an edited /etc/kvedge/kvedge.yaml', async () => {
    const edited = fs.readFileSync(installed.config, 'utf8') + '\n# edited by the operator\n';
    fs.writeFileSync(installed.config, edited);
    fs.rmSync(installed.man1); // the rest is installed again
    const log = await cmakeInstall();
    assert.equal(fs.readFileSync(installed.config, 'utf8'), edited);
    assert.match(log, /Keeping: .*\/etc\/kvedge\/kvedge\.yaml/);
    assert.ok(fs.existsSync(installed.man1), 'the man page came back');
    assert.doesNotMatch(installLog, /Keeping/, 'the first install wrote the config');
});

/** The installed example config with its machine paths moved into `dir` and the port changed; asserts each was there. */
function adjustedExampleConfig(dir, port, tokenFile) {
    let text = fs.readFileSync(installed.config, 'utf8');
    const swaps = [
        [/^data_dir: \/var\/lib\/kvedge$/m, `data_dir: ${path.join(dir, 'data')}`],
        [/token_file: \/etc\/kvedge\/kv-token$/m, `token_file: ${tokenFile}`],
        [/^(\s*-\s*host: 127\.0\.0\.1.*\n\s*port:) 8080/m, `$1 ${port}`],
    ];
    for (const [re, to] of swaps) {
        assert.match(text, re, `the example config has ${re}`);
        text = text.replace(re, to);
    }
    return text;
}

test('issue 11 install: the installed binary serves /healthz and the KV API with the installed example config', async () => {
    const dir = makeTempDir('kvedge-inst-');
    const token = crypto.randomBytes(24).toString('hex');
    const tokenFile = path.join(dir, 'kv-token');
    fs.writeFileSync(tokenFile, token + '\n', { mode: 0o640 });
    const port = await freePort();
    const yaml = adjustedExampleConfig(dir, port, tokenFile);
    const configPath = path.join(dir, 'kvedge.yaml');
    fs.writeFileSync(configPath, yaml);

    const checked = await runKvedge(['-t', '-c', configPath], { bin: installed.bin });
    assert.equal(checked.code, 0, checked.stderr);

    const k = await startKvedge(yaml, { bin: installed.bin, port, waitReady: true });
    try {
        const auth = { authorization: `Bearer ${token}` };
        const health = await http('GET', `${k.url}/healthz`);
        assert.equal(health.status, 200);
        const set = await http('POST', `${k.url}/kv`, { headers: auth, body: JSON.stringify(['SET', 'installed', 'yes']) });
        assert.equal(set.status, 200, set.body);
        assert.deepEqual(JSON.parse(set.body), { result: 'OK' });
        const get = await http('GET', `${k.url}/kv/get/installed`, { headers: auth });
        assert.deepEqual(JSON.parse(get.body), { result: 'yes' });
        const denied = await http('GET', `${k.url}/kv/get/installed`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } });
        assert.equal(denied.status, 401);
        // the embedded Redis lives in data_dir
        assert.ok(fs.existsSync(path.join(dir, 'data', 'redis.sock')), 'redis.sock in data_dir');
    } finally {
        assertCleanExit(await k.stop());
    }
});

/** The keys `--help-config` lists, as whole paths: `[]` after a list of maps, `.<name>` after maps by name. */
function helpConfigPaths(text) {
    const stack = [];
    const paths = [];
    for (const line of text.split('\n').filter(Boolean)) {
        const m = /^( *)([a-z0-9_]+) \((list of maps|maps by name|[^,)]*)/.exec(line);
        assert.ok(m, `--help-config line: ${line}`);
        const depth = m[1].length / 2;
        stack.length = depth;
        const parent = depth === 0 ? '' : stack[depth - 1];
        const full = (parent ? `${parent}.` : '') + m[2];
        paths.push(full);
        stack[depth] = full + (m[3] === 'list of maps' ? '[]' : m[3] === 'maps by name' ? '.<name>' : '');
    }
    return paths;
}

test('issue 11 install: man renders both pages without warnings, and kvedge.yaml(5) names every key of --help-config', async () => {
    for (const page of [installed.man1, installed.man5]) {
        const r = await run('man', ['--warnings', '-l', page], { env: { ...process.env, MANWIDTH: '100', MAN_KEEP_FORMATTING: '' } });
        assert.equal(r.stderr, '', `man --warnings -l ${page}`);
        assert.ok(r.stdout.length > 1000, `${page} renders text`);
        // groff reads bytes: without man's preconv, non-ASCII must be escaped too
        const g = await run('groff', ['-man', '-ww', '-z', '-Tutf8', page]);
        assert.equal(g.stderr, '', `groff -ww ${page}`);
    }
    const help = await runKvedge(['--help-config'], { bin: installed.bin });
    assert.equal(help.code, 0);
    const keys = helpConfigPaths(help.stdout);
    assert.ok(keys.length > 150, `--help-config lists ${keys.length} keys`);
    const { stdout: text } = await run('groff', ['-man', '-Tutf8', '-P-cbou', installed.man5], { maxBuffer: 16 << 20 });
    const tags = new Set(text.split('\n').map((l) => l.trim()));
    const missing = keys.filter((k) => !tags.has(k) && !text.includes(`${k} `));
    assert.deepEqual(missing, [], 'every key of --help-config has its entry in kvedge.yaml(5)');
    // and each key's doc string from the tables is there (a sample that must survive escaping: § in a session doc)
    assert.match(text, /docs\/sessions\.md §9/);
    const { stdout: man1 } = await run('man', ['-l', installed.man1], { env: { ...process.env, MANWIDTH: '100' } });
    for (const word of ['--help-config', '--print-config', 'KV_REST_API_TOKEN', 'token', 'acl', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'RELOADING=1', 'reload', 'NOTIFY_SOCKET', 'kvedge.yaml(5)']) {
        assert.ok(man1.includes(word), `kvedge(1) mentions ${word}`);
    }
});

test('issue 11 install: systemd-analyze verify accepts the installed unit (and rejects a broken copy)', async () => {
    const unit = fs.readFileSync(installed.unit, 'utf8');
    const prefixBin = /^ExecStart=(\S+)\/kvedge -c (\S+)$/m.exec(unit);
    assert.ok(prefixBin, 'ExecStart=<bindir>/kvedge -c <config>');
    assert.equal(prefixBin[2], '/etc/kvedge/kvedge.yaml');
    assert.equal(path.join(destdir, prefixBin[1], 'kvedge'), installed.bin, 'ExecStart names the installed binary');
    for (const line of [
        'Type=notify',
        'ExecReload=/bin/kill -HUP $MAINPID',
        'StateDirectory=kvedge',
        'User=kvedge',
        'KillMode=mixed',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ProtectHome=yes',
        'PrivateTmp=yes',
        'PrivateDevices=yes',
        'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
        'CapabilityBoundingSet=',
        'SystemCallFilter=@system-service',
        'LimitNOFILE=65536',
    ]) {
        assert.ok(unit.split('\n').includes(line), `the unit has ${line}`);
    }
    // verify checks that ExecStart's program exists and that Documentation= man pages open: point both at DESTDIR
    const dir = makeTempDir('kvedge-unit-');
    const copy = path.join(dir, 'kvedge.service');
    fs.writeFileSync(copy, unit.replaceAll(`${prefixBin[1]}/kvedge`, installed.bin));
    const env = { ...process.env, MANPATH: path.dirname(path.dirname(installed.man1)), SYSTEMD_LOG_COLOR: '0' };
    const ok = await run('systemd-analyze', ['verify', copy], { env });
    assert.equal(ok.stderr + ok.stdout, '', 'systemd-analyze verify is silent');

    const broken = path.join(dir, 'broken', 'kvedge.service');
    fs.mkdirSync(path.dirname(broken));
    fs.writeFileSync(broken, fs.readFileSync(copy, 'utf8').replace('ProtectHome=yes', 'ProtectHome=yes\nProtectHomme=yes'));
    const bad = await run('systemd-analyze', ['verify', broken], { env }).then((r) => r, (e) => e);
    assert.match(bad.stderr + bad.stdout, /ProtectHomme/, 'a typo in a directive is reported');
});

// ---------------------------------------------------------------------------------------------------------------
// sd_notify

/** kve_notify_listen on `name`: lines() returns the datagrams so far ('|' for their newlines). */
async function notifyListener(name) {
    const child = spawn(NOTIFY_LISTEN, [name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    await waitFor(() => out.startsWith('listening\n') || child.exitCode !== null, { message: 'kve_notify_listen bound' });
    assert.equal(child.exitCode, null, `kve_notify_listen ${name}: ${err}`);
    return {
        lines: () => out.split('\n').slice(1).filter(Boolean),
        stop: () => {
            child.kill('SIGTERM');
        },
    };
}

/** An embedded_redis.binary that writes its environment to `dump`, then runs the real redis-server. */
function redisWrapper(dir, dump) {
    const wrapper = path.join(dir, 'redis-server-wrapper');
    fs.writeFileSync(wrapper, `#!/bin/sh\nenv > '${dump}'\nexec redis-server "$@"\n`, { mode: 0o755 });
    return wrapper;
}

async function notifyRun(name) {
    assert.ok(NOTIFY_LISTEN, 'KVEDGE_NOTIFY_LISTEN is set by ctest');
    const dir = makeTempDir('kvedge-ntf-');
    const envDump = path.join(dir, 'redis.env');
    const listener = await notifyListener(name);
    let k;
    try {
        const config = {
            embedded_redis: { binary: redisWrapper(dir, envDump) },
            kv: { path: '/kv', tokens: [{ token: 'notify-test-token-0123456789' }] },
        };
        k = await startKvedge(config, { env: { NOTIFY_SOCKET: name } });
        const ready = await waitFor(() => listener.lines().find((l) => l.split('|').includes('READY=1')), { message: 'READY=1' });
        // READY=1 comes once kvedge serves: a request right after it is answered
        assert.equal((await http('GET', `${k.url}/healthz`)).status, 200);
        assert.ok(ready.split('|').includes(`MAINPID=${k.pid}`), `READY=1 names the main pid: ${ready}`);
        assert.ok(ready.split('|').includes('STATUS=serving'), ready);
        assert.ok(!listener.lines().some((l) => l.includes('STOPPING=1')), 'no STOPPING=1 while serving');

        // the embedded redis-server does not inherit NOTIFY_SOCKET (kvedge itself has it). Its /proc/PID/environ cannot
        // tell (redis-server writes its process title over that memory), so a wrapper records the environment it got.
        assert.match(fs.readFileSync(`/proc/${k.pid}/environ`, 'latin1'), /(^|\0)NOTIFY_SOCKET=/);
        const redisEnv = fs.readFileSync(envDump, 'utf8').split('\n');
        assert.ok(redisEnv.some((e) => e.startsWith('PATH=')), 'the wrapper recorded the environment');
        assert.deepEqual(redisEnv.filter((e) => e.startsWith('NOTIFY_SOCKET=')), []);

        const stopped = k.stop();
        await waitFor(() => listener.lines().some((l) => l.split('|').includes('STOPPING=1')), { message: 'STOPPING=1' });
        assertCleanExit(await stopped);
        const lines = listener.lines();
        assert.equal(lines.filter((l) => l.split('|').includes('READY=1')).length, 1, `one READY=1: ${lines.join(' / ')}`);
        assert.ok(lines.findIndex((l) => l.includes('READY=1')) < lines.findIndex((l) => l.includes('STOPPING=1')));
    } finally {
        if (k?.running) await k.stop();
        listener.stop();
    }
}

test('issue 11 notify: READY=1 (with MAINPID) once serving and STOPPING=1 on SIGTERM, on a NOTIFY_SOCKET path', async () => {
    const dir = makeTempDir('kvedge-ntf-');
    await notifyRun(path.join(dir, 'notify.sock'));
});

test('issue 11 notify: an abstract NOTIFY_SOCKET (@name) works too', async () => {
    await notifyRun(`@kvedge-test-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
});

test('issue 11 notify: a reload (SIGHUP) sends RELOADING=1 then READY=1, whether the new file is applied or refused', async () => {
    const dir = makeTempDir('kvedge-ntf-');
    const listener = await notifyListener(path.join(dir, 'notify.sock'));
    const has = (l, v) => l.split('|').includes(v);
    const count = (v) => listener.lines().filter((l) => has(l, v)).length;
    let k;
    try {
        k = await startKvedge({}, { env: { NOTIFY_SOCKET: path.join(dir, 'notify.sock') } });
        await waitFor(() => count('READY=1') === 1, { message: 'READY=1' });
        const valid = fs.readFileSync(k.configPath, 'utf8');
        for (const [i, text] of [valid + '\nthreads: 1\n', 'listen: [ this is not yaml'].entries()) {
            fs.writeFileSync(k.configPath, text);
            k.kill('SIGHUP');
            await waitFor(() => count('READY=1') === i + 2, { message: `READY=1 after reload ${i + 1}` });
            const lines = listener.lines();
            const reloading = lines.findLastIndex((l) => has(l, 'RELOADING=1'));
            assert.equal(count('RELOADING=1'), i + 1, lines.join(' / '));
            assert.ok(reloading > lines.findLastIndex((l, j) => j < lines.length - 1 && has(l, 'READY=1')), 'RELOADING=1 before READY=1');
            assert.match(lines[reloading], /\|MONOTONIC_USEC=\d+$/);
            assert.ok(has(lines.at(-1), 'READY=1'), 'READY=1 closes the reload');
            assert.equal((await http('GET', `${k.url}/healthz`)).status, 200);
            if (i === 0) assert.match(k.stderr(), /configuration 2 serving with 1 threads/, 'the first reload was applied');
        }
        await waitFor(() => /reload.*has errors: still serving the previous configuration/.test(k.stderr()), { message: 'refused reload logged' });
        const stopped = k.stop();
        await waitFor(() => count('STOPPING=1') === 1, { message: 'STOPPING=1' });
        assertCleanExit(await stopped);
    } finally {
        if (k?.running) await k.stop();
        listener.stop();
    }
});

test('issue 11 notify: a NOTIFY_SOCKET too long for sun_path, or not a path, is a warning and kvedge serves', async () => {
    const dir = makeTempDir('kvedge-ntf-');
    for (const [name, why] of [
        [path.join(dir, 'x'.repeat(120)), /longer than a socket address holds/],
        ['relative/notify.sock', /neither a path nor an abstract socket name/],
    ]) {
        const k = await startKvedge({}, { env: { NOTIFY_SOCKET: name } });
        await waitFor(() => why.test(k.stderr()), { message: `warning ${why}` });
        assert.equal((await http('GET', `${k.url}/healthz`)).status, 200);
        const result = await k.stop();
        assertCleanExit(result);
        assert.match(result.stderr, /\[warn\] notify: /);
    }
});

test('issue 11 notify: without NOTIFY_SOCKET nothing is sent and nothing is logged about it', async () => {
    const env = { NOTIFY_SOCKET: '' };
    const k = await startKvedge({}, { env });
    const result = await k.stop();
    assertCleanExit(result);
    assert.doesNotMatch(result.stderr, /notify/);
});
