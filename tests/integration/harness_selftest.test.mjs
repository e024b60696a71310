// Tests of the integration harness itself. None of them needs a working kvedge: startKvedge() is
// exercised against a small fake daemon written here, so harness bugs show up separately from
// daemon bugs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
    assertCleanExit,
    freePort,
    http,
    makeTempDir,
    rawRequest,
    startKvedge,
    startRedis,
    startUpstream,
    toYaml,
    waitFor,
    writeConfig,
} from './harness.mjs';

// A parser for exactly the YAML subset toYaml() emits (block maps/sequences, plain and double-quoted
// scalars), to check that the emitted text means what the object meant.
function parseSubset(text) {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    let i = 0;
    const indentOf = (l) => l.length - l.trimStart().length;
    const scalar = (s) => {
        if (s.startsWith('"')) return JSON.parse(s);
        if (s === '[]') return [];
        if (s === '{}') return {};
        if (s === 'null') return null;
        if (s === 'true' || s === 'false') return s === 'true';
        if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
        return s;
    };
    const block = (indent) => {
        if (lines[i].slice(indent).startsWith('- ')) {
            const arr = [];
            while (i < lines.length && indentOf(lines[i]) === indent && lines[i].slice(indent).startsWith('- ')) {
                const rest = lines[i].slice(indent + 2);
                if (rest.startsWith('- ') || /^("(?:[^"\\]|\\.)*"|[A-Za-z_][^:\s]*):( |$)/.test(rest)) {
                    lines[i] = ' '.repeat(indent + 2) + rest; // the item is a nested block starting on this line
                    arr.push(block(indent + 2));
                } else {
                    arr.push(scalar(rest));
                    i++;
                }
            }
            return arr;
        }
        const obj = {};
        while (i < lines.length && indentOf(lines[i]) === indent && !lines[i].slice(indent).startsWith('- ')) {
            const m = /^("(?:[^"\\]|\\.)*"|[^:]+):(?: (.*))?$/.exec(lines[i].slice(indent));
            assert.ok(m, `unparsable line: ${lines[i]}`);
            const key = m[1].startsWith('"') ? JSON.parse(m[1]) : m[1];
            i++;
            if (m[2] === undefined) obj[key] = block(indentOf(lines[i]));
            else obj[key] = scalar(m[2]);
        }
        return obj;
    };
    return block(0);
}

test('startRedis: SET/GET through ioredis, then stop', async () => {
    const redis = await startRedis();
    try {
        assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
        assert.notEqual(redis.port, 6379, 'must not be the system redis port');
        const c = redis.client();
        assert.equal(await c.set('harness:k', 'v1'), 'OK');
        assert.equal(await c.get('harness:k'), 'v1');
        assert.equal(await c.config('GET', 'appendonly').then((r) => r[1]), 'no');
    } finally {
        const r = await redis.stop();
        assert.equal(redis.running, false);
        assert.equal(r.code, 0, r.output);
    }
});

test('startRedis: extra args, restart keeps port, SIGSTOP/SIGCONT', async () => {
    const redis = await startRedis({ args: ['--appendonly', 'yes'] });
    try {
        const c = redis.client();
        assert.deepEqual(await c.config('GET', 'appendonly'), ['appendonly', 'yes']);
        await c.set('persist', '1');
        const oldPid = redis.pid;
        await redis.restart();
        assert.notEqual(redis.pid, oldPid);
        assert.equal(await c.get('persist'), '1', 'AOF data survives restart (and the client reconnected)');
        await redis.kill('SIGSTOP');
        await redis.kill('SIGCONT');
        assert.equal(await c.ping(), 'PONG');
        await redis.kill('SIGKILL');
        assert.equal(redis.running, false);
    } finally {
        await redis.stop();
    }
});

test('startRedis: a bad binary fails loudly (no skip)', async () => {
    await assert.rejects(startRedis({ bin: '/nonexistent/redis-server' }), /could not run '\/nonexistent\/redis-server'/);
    const saved = process.env.REDIS_SERVER_BIN;
    process.env.REDIS_SERVER_BIN = '/nonexistent/via-env';
    try {
        await assert.rejects(startRedis(), /via-env/);
    } finally {
        if (saved === undefined) delete process.env.REDIS_SERVER_BIN;
        else process.env.REDIS_SERVER_BIN = saved;
    }
    // Runs, but exits without serving.
    await assert.rejects(startRedis({ bin: 'false' }), /exited \(code 1/);
});

test('startUpstream records requests; http() sends raw paths', async () => {
    const up = await startUpstream();
    try {
        const r = await http('POST', `${up.url}/a/../b?x=1`, { headers: { 'x-test': 'yes' }, body: { hello: 'world' } });
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body).url, '/a/../b?x=1');
        assert.equal(up.requests.length, 1);
        const [req] = up.requests;
        assert.equal(req.method, 'POST');
        assert.equal(req.url, '/a/../b?x=1', 'no client-side normalization');
        assert.equal(req.headers['x-test'], 'yes');
        assert.equal(req.headers['content-type'], 'application/json');
        assert.deepEqual(JSON.parse(req.body), { hello: 'world' });
        up.clear();
        assert.equal(up.requests.length, 0);
    } finally {
        await up.stop();
    }
});

test('startUpstream: custom handler, rawRequest reads one response on a keep-alive connection', async () => {
    const up = await startUpstream(async (req, res, body) => {
        const text = `got ${req.method} ${body.length}`;
        const headers = { 'content-type': 'text/plain', 'cache-control': 'max-age=5' };
        if (req.url === '/cl') headers['content-length'] = text.length; // else chunked
        res.writeHead(201, headers);
        res.end(text);
    });
    try {
        // Both responses arrive on keep-alive connections: rawRequest must see they are complete.
        const chunked = await rawRequest(up.port, 'PUT /raw HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc');
        assert.match(chunked, /^HTTP\/1\.1 201 /);
        assert.match(chunked, /\r\n\r\n9\r\ngot PUT 3\r\n0\r\n\r\n$/);
        const withLength = await rawRequest(up.port, Buffer.from('GET /cl HTTP/1.1\r\nHost: x\r\n\r\n'));
        assert.match(withLength, /\r\n\r\ngot GET 0$/);
        const r = await http('GET', `${up.url}/`);
        assert.equal(r.headers['cache-control'], 'max-age=5');
        assert.equal(up.requests.length, 3);
        assert.equal(up.requests[0].url, '/raw');
        assert.ok(up.connections() >= 3);
    } finally {
        await up.stop();
    }
});

test('toYaml/writeConfig: kvedge-shaped config round-trips, strings stay strings', () => {
    const cfg = {
        threads: 2,
        data_dir: '/tmp/x y/data',
        http2: false,
        listen: [{ host: '127.0.0.1', port: 8080 }, { port: 8443, tls: { cert_file: '/c.pem', key_file: '/k.pem' } }],
        limits: { max_body_size: '10MiB', request_timeout: '1.5s', max_headers: 64 },
        log: { level: 'info', error_log: '-', access_log: '', access_log_format: '%h %l "%r" %s' },
        admin: { path: '/', token: '${KVEDGE_ADMIN_TOKEN}' },
        redis: { url: 'redis://user:p#ss@127.0.0.1:6380/0', password: 'true', username: '123' },
        routes: [{ path: '/api', upstream: 'http://127.0.0.1:8081/', preserve_host: true }],
        empty: { list: [], map: {} },
        nested: [[1, 'a'], ['multi\nline: "q"']],
        'odd key': 'null',
    };
    const text = toYaml(cfg);
    assert.deepEqual(parseSubset(text), cfg);
    // Exact spelling of the parts kvedge's loader cares about.
    assert.match(text, /^listen:\n {2}- host: 127\.0\.0\.1\n {4}port: 8080\n {2}- port: 8443\n {4}tls:\n {6}cert_file: \/c\.pem\n/m);
    assert.match(text, /^ {2}max_body_size: 10MiB$/m);
    assert.match(text, /^ {2}request_timeout: 1\.5s$/m);
    assert.match(text, /^ {2}password: "true"$/m, 'a string "true" is quoted');
    assert.match(text, /^ {2}username: "123"$/m, 'a numeric-looking string is quoted');
    assert.match(text, /^ {2}url: "redis:\/\/user:p#ss@127\.0\.0\.1:6380\/0"$/m, '# is quoted');
    assert.match(text, /^ {2}access_log: ""$/m);
    assert.match(text, /^ {4}upstream: http:\/\/127\.0\.0\.1:8081\/$/m);
    assert.match(text, /^ {2}token: \$\{KVEDGE_ADMIN_TOKEN\}$/m);

    const file = writeConfig(cfg);
    assert.equal(fs.readFileSync(file, 'utf8'), text);
    const raw = writeConfig('listen:\n  - port: 1\n', { name: 'raw.yaml' });
    assert.equal(path.basename(raw), 'raw.yaml');
    assert.equal(fs.readFileSync(raw, 'utf8'), 'listen:\n  - port: 1\n');
});

test('freePort and waitFor', async () => {
    const p = await freePort();
    assert.ok(p > 0 && p < 65536);
    let n = 0;
    assert.equal(await waitFor(() => ++n >= 3 && n, { intervalMs: 1 }), 3);
    await assert.rejects(waitFor(() => false, { timeoutMs: 50, message: 'never' }), /never not met within 50 ms/);
});

// A stand-in for the daemon: parses -c FILE for the first port and admin path, serves healthz/readyz,
// exits 0 on SIGTERM. FAKE_MODE=die exits at once; FAKE_MODE=asan prints a sanitizer report on exit.
function fakeKvedge() {
    const dir = makeTempDir('kvedge-fake-');
    const bin = path.join(dir, 'fake-kvedge');
    fs.writeFileSync(bin, `#!${process.execPath}
const fs = require('node:fs'), http = require('node:http');
const text = fs.readFileSync(process.argv[process.argv.indexOf('-c') + 1], 'utf8');
if (process.env.FAKE_MODE === 'die') { console.error('config: 3:1: unknown key "bogus"'); process.exit(1); }
const port = Number(/port: (\\d+)/.exec(text)[1]);
const admin = (/^admin:\\n  path: (\\S+)/m.exec(text) || [0, '/'])[1].replace(/\\/?$/, '/');
const srv = http.createServer((req, res) => {
  const ok = req.url === admin + 'healthz' || req.url === admin + 'readyz';
  res.writeHead(ok ? 200 : 404); res.end(ok ? 'ok' : 'no');
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  if (process.env.FAKE_MODE === 'asan') console.error('==1==ERROR: LeakSanitizer: detected memory leaks');
  srv.close(); srv.closeAllConnections(); process.exitCode = 0;
});
`);
    fs.chmodSync(bin, 0o755);
    return bin;
}

test('startKvedge/stop/assertCleanExit against a fake daemon', async () => {
    const bin = fakeKvedge();
    const kv = await startKvedge({ admin: { path: '/_admin' }, redis: 'embedded' }, { bin, waitReady: true });
    assert.match(kv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(kv.adminUrl, `${kv.url}/_admin/`);
    assert.equal(kv.config.data_dir, path.join(kv.dir, 'data'), 'data_dir defaults to a temp dir');
    assert.equal((await http('GET', `${kv.adminUrl}healthz`)).body, 'ok');
    const result = await kv.stop();
    assertCleanExit(result);
    assert.equal(kv.running, false);
    assert.deepEqual(await kv.stop(), result, 'stop() is idempotent');

    await assert.rejects(startKvedge({}, { bin, env: { FAKE_MODE: 'die' } }), /exited \(code 1[\s\S]*unknown key "bogus"/);

    const leaky = await startKvedge({}, { bin, env: { FAKE_MODE: 'asan' } });
    const leakyResult = await leaky.stop();
    assert.throws(() => assertCleanExit(leakyResult), /sanitizer report \(LeakSanitizer\)/);
});

test('startKvedge: KVEDGE_BIN missing or wrong is a clear error', async () => {
    const saved = process.env.KVEDGE_BIN;
    try {
        delete process.env.KVEDGE_BIN;
        await assert.rejects(startKvedge({}), /KVEDGE_BIN is not set/);
        process.env.KVEDGE_BIN = '/nonexistent/kvedge';
        await assert.rejects(startKvedge({}), /does not exist or is not executable/);
    } finally {
        if (saved === undefined) delete process.env.KVEDGE_BIN;
        else process.env.KVEDGE_BIN = saved;
    }
});
