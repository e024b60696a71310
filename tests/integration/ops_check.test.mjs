// Issue 11, `kvedge -t` catches what startup would refuse: golden outputs (tests/golden/check/<case>.yaml, compared
// byte for byte with <case>.stderr and <case>.stdout) for the TLS check, unknown command names, relative paths, the
// warnings and a file with several independent errors reported in one run; then what the golden files cannot show:
// paths relative to the config file whatever the working directory, startup refusing what -t refuses, warnings in the
// error log at startup without the token, and the embedded Redis's relative data_dir next to the config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HOST, SOURCE_DIR, freePort, http, makeTempDir, runKvedge, startKvedge, startRedis, waitFor, writeConfig } from './harness.mjs';

const GOLDEN = path.join(SOURCE_DIR, 'tests/golden/check');
const cases = fs.readdirSync(GOLDEN).filter((f) => f.endsWith('.yaml')).sort();
const golden = (f, ext) => fs.readFileSync(path.join(GOLDEN, f.replace(/\.yaml$/, ext)), 'utf8');
// the first line of each case says what it shows: "# issue 11 -t: ..."
const titleOf = (f) => fs.readFileSync(path.join(GOLDEN, f), 'utf8').split('\n')[0].replace(/^# /, '');

test('issue 11 -t: every golden case has its expected output and a title', () => {
    assert.ok(cases.length >= 12, `${cases.length} cases`);
    for (const f of cases) {
        assert.ok(fs.existsSync(path.join(GOLDEN, f.replace(/\.yaml$/, '.stderr'))), `${f} has a .stderr`);
        assert.ok(fs.existsSync(path.join(GOLDEN, f.replace(/\.yaml$/, '.stdout'))), `${f} has a .stdout`);
        assert.match(titleOf(f), /^issue 11 -t: /, f);
    }
});

// run from the source folder with the file's path relative to it: every relative path in the messages shows the
// file kvedge opens (tests/golden/check/certs/..., not certs/...)
for (const f of cases) {
    test(`${titleOf(f)} (${f})`, async () => {
        const r = await runKvedge(['-t', '-c', path.join('tests/golden/check', f)], { cwd: SOURCE_DIR });
        const stdout = golden(f, '.stdout');
        assert.equal(r.stderr, golden(f, '.stderr'));
        assert.equal(r.stdout, stdout);
        assert.equal(r.code, stdout === '' ? 1 : 0, 'exit status: 0 when valid (warnings or not), 1 with errors');
    });
}

test('issue 11 -t: a file with several independent errors reports them all in one run', async () => {
    const r = await runKvedge(['-t', '-c', path.join(GOLDEN, 'multi_errors.yaml')]);
    assert.equal(r.code, 1);
    const errors = r.stderr.match(/: error: /g) ?? [];
    assert.ok(errors.length >= 8, `${errors.length} errors:\n${r.stderr}`);
    // one of each kind: a key, a value, the TLS check, a command name, a store reference, path conflicts
    for (const what of ['unknown key "thredas"', 'limits.request_timeout', 'does not match the certificate', 'unknown command "flushal"',
        'unknown store "cahce"', 'routes[1].path "/api" is also served by routes[0].path', 'routes[2].path "/app" is also served by kv.path'])
        assert.ok(r.stderr.includes(what), `reports ${what}`);
    assert.match(r.stderr, /: warning: admin\.token: /, 'and the warnings');
});

test('issue 11 -t: relative paths are relative to the config file, whatever the working directory', async () => {
    const elsewhere = makeTempDir('kvedge-cwd-');
    const good = await runKvedge(['-t', '-c', path.join(GOLDEN, 'tls_good.yaml')], { cwd: elsewhere });
    assert.equal(good.stderr, '');
    assert.equal(good.code, 0, 'certs/cert.pem and secrets/kv-token are found next to the config');
    const bad = await runKvedge(['-t', '-c', path.join(GOLDEN, 'relative_paths.yaml')], { cwd: elsewhere });
    assert.equal(bad.code, 1);
    assert.ok(bad.stderr.includes(`cannot read ${path.join(GOLDEN, 'missing/ca.pem')}: No such file or directory`), bad.stderr);
    // (a long path is shortened in the message: it starts with the config's folder, an absolute path)
    assert.ok(bad.stderr.includes(`admin.token_file: cannot read "${GOLDEN.slice(0, 30)}`), bad.stderr);
    // an absolute path stays as written, "-" is stderr, not a file next to the config
    const dir = makeTempDir('kvedge-abs-');
    fs.mkdirSync(path.join(dir, 'conf'));
    const file = writeConfig(`listen:\n  - port: 8080\nlog:\n  error_log: "-"\nroutes:\n  - path: /a\n    upstream: https://127.0.0.1:1/\n` +
        `    ca_file: ${path.join(dir, 'nope.pem')}\n`, { dir: path.join(dir, 'conf') });
    const abs = await runKvedge(['-t', '-c', file], { cwd: elsewhere });
    assert.equal(abs.code, 1);
    assert.ok(abs.stderr.includes(`cannot read ${path.join(dir, 'nope.pem')}: `), abs.stderr);
});

test('issue 11 -t: startup refuses a key that does not match its certificate with the same error as -t', async () => {
    const file = path.join('tests/golden/check', 'tls_mismatch.yaml');
    const run = await runKvedge(['-c', file], { cwd: SOURCE_DIR });
    assert.equal(run.code, 1);
    assert.equal(run.stderr, golden('tls_mismatch.yaml', '.stderr'));
});

test('issue 11 -t: the warnings never show a token, only where it is', async () => {
    const r = await runKvedge(['-t', '-c', path.join(GOLDEN, 'warn_tokens.yaml')]);
    assert.equal(r.code, 0);
    for (const token of ['zzzzzzzzzzzzzzzzzzzz', 'kvedge-quickstart-token', '48151623424815162342', 'abcabcabcabcabcabcabc',
        'ChangeMe-Password-2024', 'quickstart', 'ChangeMe'])
        assert.ok(!r.stderr.includes(token) && !r.stdout.includes(token), `${token} is not shown`);
    assert.match(r.stderr, /^.*warn_tokens\.yaml:9:14: warning: kv\.tokens\[0\]\.token: this token is easy to guess/m);
});

test('issue 11 -t: the quickstart token is warned about, and the examples load with warnings only', async () => {
    const r = await runKvedge(['-t', '-c', 'examples/quickstart.yaml'], { cwd: SOURCE_DIR });
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stderr, /: error: /);
    assert.match(r.stderr, /quickstart\.yaml:\d+:\d+: warning: kv\.tokens\[0\]\.token: this token is easy to guess/);
    assert.match(r.stdout, /^kvedge: configuration examples\/quickstart\.yaml is valid, with \d+ warnings?\n$/);
    // a token of one's own, from the environment, is no warning
    const own = await runKvedge(['-t', '-c', 'examples/quickstart.yaml'], {
        cwd: SOURCE_DIR, env: { KV_REST_API_TOKEN: 'Jq8Wm2Xv5Lr9Tn4Kp7Zs3Yb6', KV_REST_API_READ_ONLY_TOKEN: 'Hd5Rk8Vn2Qw9Mx4Lc7Pt3Gz6' },
    });
    assert.equal(own.stderr, '');
    assert.equal(own.stdout, 'kvedge: configuration examples/quickstart.yaml is valid\n');
});

test('issue 11 -t: warnings are logged at startup to the error log, without the token', async () => {
    const redis = await startRedis();
    const logDir = makeTempDir('kvedge-log-');
    const errorLog = path.join(logDir, 'error.log');
    const weak = 'kvedge-quickstart-token';
    const k = await startKvedge({ redis: redis.url, log: { error_log: errorLog }, kv: { tokens: [{ token: weak }] }, threads: 1 });
    try {
        await waitFor(() => fs.existsSync(errorLog) && fs.readFileSync(errorLog, 'utf8').includes('kv.tokens[0].token'),
            { message: 'the warning in the error log' });
        const log = fs.readFileSync(errorLog, 'utf8');
        assert.match(log, /warning: .*kvedge\.yaml:\d+:\d+: kv\.tokens\[0\]\.token: this token is easy to guess/);
        assert.ok(!log.includes(weak), 'the token is not in the log');
        assert.match(k.stderr(), /: warning: kv\.tokens\[0\]\.token: /, 'and printed while loading, as -t does');
        assert.ok(!k.stderr().includes(weak), 'the token is not on stderr');
    } finally {
        await k.stop();
        await redis.stop();
    }
});

// kvedge started from another folder: data_dir ./kvedge-data is next to the config, not in the working directory
test('issue 11 -t: a relative data_dir is the embedded Redis data next to the config file', async () => {
    const root = makeTempDir('kvedge-rel-');
    const confDir = path.join(root, 'conf');
    const cwd = path.join(root, 'elsewhere');
    fs.mkdirSync(cwd);
    fs.mkdirSync(confDir);
    const port = await freePort();
    const file = writeConfig(`listen:\n  - host: ${HOST}\n    port: ${port}\ndata_dir: ./kvedge-data\nredis: embedded\nthreads: 1\n`,
        { dir: confDir });
    const bin = path.resolve(process.env.KVEDGE_BIN);
    const child = spawn(bin, ['-c', path.relative(cwd, file)], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
        await waitFor(async () => {
            try {
                return (await http('GET', `http://${HOST}:${port}/readyz`, { timeoutMs: 1000 })).status === 200;
            } catch {
                return false;
            }
        }, { timeoutMs: 60_000, message: `kvedge ready (stderr: ${stderr})` });
        assert.ok(fs.existsSync(path.join(confDir, 'kvedge-data', 'redis.sock')), 'the socket is in conf/kvedge-data');
        assert.ok(!fs.existsSync(path.join(cwd, 'kvedge-data')), 'nothing in the working directory');
    } finally {
        child.kill('SIGTERM');
        const { code } = await exited;
        assert.equal(code, 0, stderr);
    }
});
