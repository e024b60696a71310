// Issue 11, reload: SIGHUP (and `kvedge reload`) re-read the configuration; a valid one takes over new requests
// without refusing or resetting a connection (idle keep-alive connections, TLS included, move to the new
// configuration), an invalid one is logged compiler-style and changes nothing; the embedded Redis is kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import httpMod from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import {
    assertCleanExit, freePort, HOST, http, runKvedge, SANITIZE, sleep, startKvedge, startRedis, startUpstream, waitFor, writeConfig,
} from './harness.mjs';
import { makeCerts } from './httpclient_helpers.mjs';

const T1 = 'reload-token-one-6f1d2c9a8b7e4f30a1b2';
const T2 = 'reload-token-two-0c9e8d7f6a5b4c3d2e1f';
let redis, upA, upB;

before(async () => {
    redis = await startRedis();
    upA = await startUpstream((req, res) => res.end('from-A'));
    upB = await startUpstream((req, res) => res.end('from-B'));
});

after(async () => {
    await upA?.stop();
    await upB?.stop();
    await redis?.stop();
});

/* config A: one listener, token T1, /p -> A; config B: a second listener, tokens T1 and T2, /p -> B */
function variant(base, which, extraPort) {
    const cfg = structuredClone(base);
    cfg.routes = [{ path: '/p', upstream: `${which === 'A' ? upA.url : upB.url}/` }];
    cfg.kv.tokens = [{ token: T1, name: 'one' }];
    if (which === 'B') {
        cfg.kv.tokens.push({ token: T2, name: 'two' });
        cfg.listen = [cfg.listen[0], { host: HOST, port: extraPort }];
    } else {
        cfg.listen = [cfg.listen[0]];
    }
    return cfg;
}

function baseConfig(extra = {}) {
    return {
        redis: redis.url,
        threads: 2,
        limits: { request_timeout: '30s' },
        kv: { path: '/kv', tokens: [{ token: T1, name: 'one' }] },
        routes: [{ path: '/p', upstream: `${upA.url}/` }],
        ...extra,
    };
}

function countMatches(text, re) {
    return (text.match(re) ?? []).length;
}

/* HUP, then wait for the log to say how it went: resolves with 'ok' or 'failed' */
async function hup(k) {
    const before = k.stderr();
    const okBefore = countMatches(before, /reload: configuration \d+ serving/g);
    const failBefore = countMatches(before, /still serving the previous configuration/g);
    process.kill(k.pid, 'SIGHUP');
    let outcome;
    await waitFor(() => {
        const s = k.stderr();
        if (countMatches(s, /reload: configuration \d+ serving/g) > okBefore) outcome = 'ok';
        else if (countMatches(s, /still serving the previous configuration/g) > failBefore) outcome = 'failed';
        return outcome !== undefined;
    }, { timeoutMs: SANITIZE ? 30_000 : 10_000, message: 'the reload outcome in the log' });
    return outcome;
}

/* A raw HTTP/1.1 keep-alive connection (plain or TLS) that reports whether it was ever closed. */
async function persistentConnection(port, { secure = false } = {}) {
    const sock = secure
        ? tls.connect({ host: HOST, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
        : net.connect({ host: HOST, port });
    await new Promise((resolve, reject) => {
        sock.once(secure ? 'secureConnect' : 'connect', resolve);
        sock.once('error', reject);
    });
    const state = { closed: false, error: null };
    sock.on('close', () => (state.closed = true));
    sock.on('error', (e) => (state.error = e));
    let buf = Buffer.alloc(0);
    let waiter = null;
    sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        waiter?.();
    });
    const request = (method, target, headers = {}) => new Promise((resolve, reject) => {
        const lines = [`${method} ${target} HTTP/1.1`, `Host: ${HOST}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
        const timer = setTimeout(() => reject(new Error(`no response to ${target} on the kept connection`)), 10_000);
        waiter = () => {
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) return;
            const head = buf.subarray(0, end).toString('latin1');
            const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
            const len = m ? Number(m[1]) : 0;
            if (buf.length < end + 4 + len) return;
            const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
            buf = buf.subarray(end + 4 + len);
            waiter = null;
            clearTimeout(timer);
            resolve({ status: Number(head.split(' ')[1]), head, body });
        };
        if (state.closed) return reject(new Error('the kept connection was closed'));
        sock.write(lines.join('\r\n') + '\r\n\r\n');
    });
    return { sock, state, request, close: () => sock.destroy() };
}

/* bounded keep-alive load through the KV API and the proxy route; every failure is kept */
function startLoad(url, { connections = 8 } = {}) {
    const agent = new httpMod.Agent({ keepAlive: true, maxSockets: connections });
    const stats = { ok: 0, failures: [], markers: { A: 0, B: 0 } };
    let running = true;
    const loop = async (i) => {
        for (let n = 0; running; n++) {
            try {
                if (n % 2 === 0) {
                    const r = await http('GET', `${url}/p/x${i}`, { agent, timeoutMs: 10_000 });
                    if (r.status !== 200 || !/^from-[AB]$/.test(r.body)) throw new Error(`GET /p: ${r.status} ${r.body}`);
                    stats.markers[r.body.slice(5)]++;
                } else {
                    const r = await http('POST', `${url}/kv`, {
                        agent, timeoutMs: 10_000, headers: { authorization: `Bearer ${T1}` }, body: JSON.stringify(['INCR', 'reload-load']),
                    });
                    if (r.status !== 200) throw new Error(`POST /kv: ${r.status} ${r.body}`);
                }
                stats.ok++;
            } catch (e) {
                stats.failures.push(e.message);
            }
        }
    };
    const loops = Array.from({ length: connections }, (_, i) => loop(i));
    return {
        stats,
        async stop() {
            running = false;
            await Promise.all(loops);
            agent.destroy();
            return stats;
        },
    };
}

async function expectVariant(k, which, extraPort) {
    const r = await http('GET', `${k.url}/p/check`);
    assert.equal(r.body, `from-${which}`, `a new connection sees configuration ${which}`);
    const t2 = await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${T2}` }, body: JSON.stringify(['PING']) });
    assert.equal(t2.status, which === 'B' ? 200 : 401, `token two under configuration ${which}`);
    const extra = await http('GET', `http://${HOST}:${extraPort}/healthz`, { timeoutMs: 2000 }).then((x) => x.status, (e) => e.code);
    assert.equal(extra, which === 'B' ? 200 : 'ECONNREFUSED', `the second listener under configuration ${which}`);
}

test('issue 11 reload: 20 valid and 5 invalid reloads under load: 0 failed requests, 0 resets, each change observed',
    { timeout: SANITIZE ? 600_000 : 240_000 }, async () => {
        const extraPort = await freePort();
        const k = await startKvedge(baseConfig());
        const base = k.config;
        const load = startLoad(k.url);
        let kept = await persistentConnection(k.port);
        let which = 'A';
        let valid = 0, invalid = 0;
        try {
            await waitFor(() => load.stats.ok > 50, { message: 'load running' });
            for (let step = 1; valid < 20 || invalid < 5; step++) {
                const before = await kept.request('GET', '/p/kept');
                assert.equal(before.body, `from-${which}`);
                if (step % 5 === 0 && invalid < 5) {
                    // an invalid file: a bad value, an unknown key and a route without upstream, all reported
                    fs.writeFileSync(k.configPath, fs.readFileSync(k.configPath, 'utf8') + `threads: many\nbogus_key: ${step}\n`);
                    assert.equal(await hup(k), 'failed');
                    invalid++;
                    assert.match(k.stderr(), /\[error\] reload: .*kvedge\.yaml:\d+:\d+: error: /, 'compiler-style errors in the log');
                    await expectVariant(k, which, extraPort);
                } else {
                    const next = which === 'A' ? 'B' : 'A';
                    writeConfig(variant(base, next, extraPort), { dir: k.dir });
                    assert.equal(await hup(k), 'ok', k.stderr().split('\n').slice(-5).join('\n'));
                    valid++;
                    which = next;
                    await expectVariant(k, which, extraPort);
                }
                // the idle connection kept across the reload now runs on the configuration in force
                const afterReload = await kept.request('GET', '/p/kept');
                assert.equal(afterReload.body, `from-${which}`, `the kept connection after reload ${step}`);
                assert.equal(kept.state.closed, false, 'the kept connection stays open');
                if (step % 7 === 0) { // and a fresh one now and then
                    kept.close();
                    kept = await persistentConnection(k.port);
                }
            }
            await sleep(300);
        } finally {
            kept.close();
            const stats = await load.stop();
            const result = await k.stop();
            assertCleanExit(result);
            assert.deepEqual(stats.failures, [], 'no request failed');
            assert.ok(stats.ok > 200, `load made ${stats.ok} requests`);
            assert.ok(stats.markers.A > 0 && stats.markers.B > 0, 'the load saw both configurations');
        }
        assert.equal(valid, 20);
        assert.equal(invalid, 5);
    });

test('issue 11 reload: an idle TLS keep-alive connection moves to the new configuration', async () => {
    const certs = makeCerts();
    const leaf = certs.leaf({ ip: ['127.0.0.1'] });
    const tlsPort = await freePort();
    const k = await startKvedge(baseConfig({
        listen: [{ host: HOST, port: 0 }, { host: HOST, port: tlsPort, tls: { cert_file: leaf.cert, key_file: leaf.key } }],
    }));
    try {
        const conn = await persistentConnection(tlsPort, { secure: true });
        assert.equal((await conn.request('GET', '/p/1')).body, 'from-A');
        const cfg = structuredClone(k.config);
        cfg.routes = [{ path: '/p', upstream: `${upB.url}/` }];
        writeConfig(cfg, { dir: k.dir });
        assert.equal(await hup(k), 'ok');
        await sleep(200);
        assert.equal((await conn.request('GET', '/p/2')).body, 'from-B', 'the same TLS connection, now on the new configuration');
        assert.equal(conn.state.closed, false);
        assert.equal(conn.state.error, null);
        conn.close();
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 11 reload: a request in flight finishes on the old configuration, its connection then moves', async () => {
    const slow = await startUpstream(async (req, res) => {
        await sleep(1500);
        res.end('slow-done');
    });
    const k = await startKvedge(baseConfig({ routes: [{ path: '/p', upstream: `${upA.url}/` }, { path: '/slow', upstream: `${slow.url}/` }] }));
    try {
        const conn = await persistentConnection(k.port);
        const inflight = conn.request('GET', '/slow/x');
        await waitFor(() => slow.requests.length === 1, { message: 'the slow request reached its upstream' });
        const cfg = structuredClone(k.config);
        cfg.routes = [{ path: '/p', upstream: `${upB.url}/` }]; // /slow is gone in the new configuration
        writeConfig(cfg, { dir: k.dir });
        assert.equal(await hup(k), 'ok');
        const r = await inflight;
        assert.equal(r.status, 200);
        assert.equal(r.body, 'slow-done', 'answered by the configuration it started on');
        await sleep(200);
        assert.equal((await conn.request('GET', '/p/next')).body, 'from-B', 'the next request on it runs on the new one');
        assert.equal((await conn.request('GET', '/slow/y')).status, 404, 'where /slow no longer exists');
        assert.equal(conn.state.closed, false);
        conn.close();
    } finally {
        assertCleanExit(await k.stop());
        await slow.stop();
    }
});

test('issue 11 reload: the embedded Redis is kept (and its data) unless its own settings change; then it restarts', async () => {
    const k = await startKvedge({
        threads: 1,
        kv: { path: '/kv', tokens: [{ token: T1, name: 'one' }] },
    });
    try {
        const kv = (token, cmd) => http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(cmd) });
        assert.equal((await kv(T1, ['SET', 'kept', 'yes'])).status, 200);
        const pids = () => [...k.stderr().matchAll(/embedded redis-server \(pid (\d+)\) (?:ready|restarted)/g)].map((m) => Number(m[1]));
        assert.equal(pids().length, 1);

        const cfg = structuredClone(k.config);
        cfg.kv.tokens.push({ token: T2, name: 'two' });
        writeConfig(cfg, { dir: k.dir });
        assert.equal(await hup(k), 'ok');
        const got = await kv(T2, ['GET', 'kept']);
        assert.equal(got.status, 200, got.body);
        assert.equal(JSON.parse(got.body).result, 'yes', 'same Redis, same data');
        assert.equal(pids().length, 1, 'the embedded Redis was not restarted');

        cfg.embedded_redis = { maxmemory: '64mb' };
        writeConfig(cfg, { dir: k.dir });
        assert.equal(await hup(k), 'ok');
        assert.match(k.stderr(), /embedded Redis' settings changed.*restarting it/);
        const [first, second] = pids();
        assert.ok(second && second !== first, 'a new redis-server process');
        await waitFor(async () => (await kv(T2, ['GET', 'kept'])).status === 200, { message: 'the store is back' });
        assert.match(JSON.parse((await kv(T2, ['INFO', 'memory'])).body).result, /maxmemory:64000000\r?\n/, 'running with the new setting');
        assert.equal(JSON.parse((await kv(T2, ['GET', 'kept'])).body).result, 'yes', 'the data survived the restart (AOF)');

        cfg.data_dir = path.join(k.dir, 'elsewhere');
        writeConfig(cfg, { dir: k.dir });
        assert.equal(await hup(k), 'failed');
        assert.match(k.stderr(), /binary or data_dir changed: that takes a restart of kvedge; still serving the previous configuration/);
        assert.equal((await kv(T2, ['GET', 'kept'])).status, 200, 'the running configuration still serves');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 11 reload: a listener whose port is taken by someone else fails the reload and leaves the old one serving', async () => {
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, HOST, resolve));
    const k = await startKvedge(baseConfig());
    try {
        const cfg = structuredClone(k.config);
        cfg.listen = [cfg.listen[0], { host: HOST, port: blocker.address().port }];
        cfg.routes = [{ path: '/p', upstream: `${upB.url}/` }];
        writeConfig(cfg, { dir: k.dir });
        assert.equal(await hup(k), 'failed');
        assert.match(k.stderr(), /cannot listen on 127\.0\.0\.1:\d+: Address already in use; still serving the previous configuration/);
        assert.equal((await http('GET', `${k.url}/p/x`)).body, 'from-A');
    } finally {
        assertCleanExit(await k.stop());
        blocker.close();
    }
});

test('issue 11 reload: metrics counters keep counting across reloads', async () => {
    const k = await startKvedge(baseConfig());
    try {
        const total = async () => {
            const m = (await http('GET', `${k.adminUrl}metrics`)).body;
            return [...m.matchAll(/^kvedge_http_requests_total\{route="proxy:\/p",status="200"\} (\d+)$/gm)].reduce((a, x) => a + Number(x[1]), 0);
        };
        // a request is counted when h2o disposes of it, just after its last byte went out: wait for the count
        const expectTotal = (n, message) => waitFor(async () => (await total()) === n, { message });
        for (let i = 0; i < 10; i++) await http('GET', `${k.url}/p/x`);
        await expectTotal(10, '10 requests counted');
        for (let round = 0; round < 3; round++) {
            writeConfig(variant(k.config, round % 2 === 0 ? 'B' : 'A', await freePort()), { dir: k.dir });
            assert.equal(await hup(k), 'ok');
            await waitFor(() => /configuration \d+ drained/.test(k.stderr()), { message: 'the old configuration drained' });
            for (let i = 0; i < 5; i++) await http('GET', `${k.url}/p/x`);
        }
        await expectTotal(25, 'requests counted by drained configurations are kept');
        await sleep(300);
        assert.equal(await total(), 25, 'and nothing counted twice');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 11 reload: `kvedge reload -c` checks the file, then signals the pid_file process; errors send nothing', async () => {
    const k = await startKvedge(baseConfig({ pid_file: 'kvedge.pid' }));
    try {
        const pidFile = path.join(k.dir, 'kvedge.pid');
        await waitFor(() => fs.existsSync(pidFile), { message: 'pid file' });
        assert.equal(Number(fs.readFileSync(pidFile, 'utf8').trim()), k.pid);
        const cfg = structuredClone(k.config);
        cfg.routes = [{ path: '/p', upstream: `${upB.url}/` }];
        writeConfig(cfg, { dir: k.dir });
        const before = countMatches(k.stderr(), /reload: configuration \d+ serving/g);
        const ok = await runKvedge(['reload', '-c', k.configPath], { cwd: k.dir });
        assert.equal(ok.code, 0, ok.stderr);
        assert.match(ok.stdout, /sent SIGHUP to process \d+/);
        await waitFor(() => countMatches(k.stderr(), /reload: configuration \d+ serving/g) > before, { message: 'reloaded' });
        assert.equal((await http('GET', `${k.url}/p/x`)).body, 'from-B');

        fs.writeFileSync(k.configPath, fs.readFileSync(k.configPath, 'utf8') + 'threads: many\n');
        const bad = await runKvedge(['reload', '-c', k.configPath], { cwd: k.dir });
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /kvedge\.yaml:\d+:\d+: error: .*\n.*has errors; nothing was sent/s);
        await sleep(300);
        assert.equal(countMatches(k.stderr(), /received SIGHUP/g), 1, 'no signal was sent for the invalid file');
    } finally {
        assertCleanExit(await k.stop());
    }
    assert.equal(fs.existsSync(path.join(k.dir, 'kvedge.pid')), false, 'the pid file is removed at exit');
});

test('issue 11 reload: a reload while the store is down applies; its requests get 503 until the store is back', async () => {
    const own = await startRedis();
    const k = await startKvedge(baseConfig({ redis: own.url }));
    const kv = (token) => http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(['SET', 'k', 'v']) });
    try {
        assert.equal((await kv(T1)).status, 200);
        await own.kill('SIGKILL');
        const cfg = structuredClone(k.config);
        cfg.kv.tokens.push({ token: T2, name: 'two' });
        writeConfig(cfg, { dir: k.dir });
        assert.equal(await hup(k), 'ok', 'a store that cannot be reached does not fail the reload (its links reconnect)');
        const down = await kv(T2);
        assert.equal(down.status, 503, down.body);
        await own.restart();
        await waitFor(async () => (await kv(T2)).status === 200, { message: 'the new configuration reaches the store again' });
    } finally {
        assertCleanExit(await k.stop());
        await own.stop();
    }
});
