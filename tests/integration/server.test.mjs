// The daemon's HTTP surface without the KV store in the way: admin endpoints, metrics, limits
// (413/431 with a log line, and kvedge unaffected afterwards), proxy routes (including a dead
// upstream), the admin token, TLS listeners, connection limits and SIGUSR1 log reopening.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import https from 'node:https';
import httpMod from 'node:http';
import {
    assertCleanExit,
    freePort,
    http,
    makeTempDir,
    rawRequest,
    sleep,
    startKvedge,
    startRedis,
    startUpstream,
    stopKvedgeThen,
    waitFor,
    writeConfig,
} from './harness.mjs';

let redis, upstream, kv, dead;

before(async () => {
    redis = await startRedis();
    upstream = await startUpstream(async (req, res, body) => {
        if (req.url.startsWith('/slow')) await sleep(300);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, method: req.method, bytes: body.length }));
    });
    dead = await freePort(); // nothing listens there (until the recovery test)
    kv = await startKvedge({
        threads: 2,
        redis: redis.url,
        limits: { max_body_size: '64KiB', max_header_size: '4KiB', max_headers: 20 },
        routes: [
            { path: '/api', upstream: `${upstream.url}/` },
            { path: '/dead', upstream: `http://127.0.0.1:${dead}/`, timeout: '2s' },
        ],
    }, { waitReady: true });
});

after(async () => {
    try {
        if (kv) assertCleanExit(await kv.stop());
    } finally {
        await upstream?.stop();
        await redis?.stop();
    }
});

test('healthz and readyz answer 200 with plain text', async () => {
    const h = await http('GET', `${kv.url}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(h.body, 'ok\n');
    assert.equal(h.headers['cache-control'], 'no-store');
    const r = await http('GET', `${kv.url}/readyz`);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'ready\n');
});

test('admin endpoints refuse other methods with 405 and Allow', async () => {
    const r = await http('POST', `${kv.url}/healthz`, { body: 'x' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD');
});

test('unknown paths get 404 and are counted under route "other"', async () => {
    const r = await http('GET', `${kv.url}/no/such/path`);
    assert.equal(r.status, 404);
    // counted when h2o logs the request, which may come after the client has read the response
    const counted = /^kvedge_http_requests_total\{route="other",status="404"\} [1-9]\d*$/m;
    await waitFor(async () => counted.test((await http('GET', `${kv.url}/metrics`)).body), { message: 'the 404 counted' });
});

test('metrics are Prometheus text with requests, latency, connections and the KV link', async () => {
    await http('GET', `${kv.url}/healthz`);
    const m = await http('GET', `${kv.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    for (const re of [
        /^# TYPE kvedge_http_requests_total counter$/m,
        /^kvedge_http_requests_total\{route="admin",status="200"\} [1-9]\d*$/m,
        /^# TYPE kvedge_http_request_duration_seconds histogram$/m,
        /^kvedge_http_request_duration_seconds_bucket\{route="admin",le="\+Inf"\} [1-9]\d*$/m,
        /^kvedge_http_request_duration_seconds_count\{route="admin"\} [1-9]\d*$/m,
        /^kvedge_connections [1-9]\d*$/m,
        /^kvedge_kv_link_up\{store="default",thread="0"\} 1$/m,
        /^kvedge_kv_link_up\{store="default",thread="1"\} 1$/m,
        /^kvedge_kv_commands_total\{store="default"\} \d+$/m,
        /^kvedge_kv_timeouts_total\{store="default"\} 0$/m,
        /^kvedge_kv_reconnects_total\{store="default"\} 0$/m,
        /^kvedge_build_info\{version="[^"]+"\} 1$/m,
    ])
        assert.match(m.body, re);
    assert.doesNotMatch(m.body, /kvedge_kv_(redirects|slot_map_refreshes)_total/, 'the cluster counters only for a cluster store');
    // every sample line is "name{labels} value" or "name value"
    for (const line of m.body.split('\n').filter((l) => l && !l.startsWith('#')))
        assert.match(line, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/, line);
});

test('a body over limits.max_body_size gets 413, a log line, and the server stays healthy', async () => {
    const big = 'x'.repeat(64 * 1024 + 1);
    const r = await http('POST', `${kv.url}/api/echo`, { body: big });
    assert.equal(r.status, 413);
    await waitFor(() => /\[warn\] limits: 413 for POST \/api\/echo/.test(kv.stderr()), { message: '413 log line' });
    const ok = await http('POST', `${kv.url}/api/echo`, { body: 'x'.repeat(1024) });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).bytes, 1024);
    assert.equal((await http('GET', `${kv.url}/healthz`)).status, 200);
});

// kv.max_request_size above limits.max_body_size raises h2o's own limit for every path; the other paths are
// held to limits.max_body_size by kvedge, and each refused body is logged once, naming the right limit.
test('with kv.max_request_size above limits.max_body_size, a large body is refused and logged once', async () => {
    const k = await startKvedge({
        redis: redis.url, threads: 1,
        limits: { max_body_size: '1KiB' },
        routes: [{ path: '/api', upstream: `${upstream.url}/` }],
        kv: { max_request_size: '1MiB', tokens: [{ token: 'kv-token-0123456789abcdef' }] },
    });
    const lines = (re) => k.stderr().split('\n').filter((l) => re.test(l));
    try {
        const r = await http('POST', `${k.url}/api/big-body`, { body: 'x'.repeat(2048) });
        assert.equal(r.status, 413);
        await waitFor(() => lines(/413 for POST \/api\/big-body/).length > 0, { message: '413 log line' });
        const other = await http('POST', `${k.url}/no-such-path`, { body: 'x'.repeat(2048) });
        assert.equal(other.status, 413);
        await waitFor(() => lines(/413 for POST \/no-such-path/).length > 0, { message: '413 log line' });
        // over h2o's own limit (kv.max_request_size + 1): h2o answers before routing, logged once as such.
        // It answers on the Content-Length alone and closes, so the body is not sent (a client still writing
        // it could see ECONNRESET instead of the answer).
        const huge = await rawRequest(k.port, `POST /api/huge-body HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 1024 + 2}\r\n\r\n`,
            { untilClose: true });
        assert.match(huge, /^HTTP\/1\.1 413 /);
        await waitFor(() => lines(/413 for POST \/api\/huge-body/).length > 0, { message: '413 log line' });
        await http('GET', `${k.url}/healthz`); // logged after the requests above
        await sleep(100);
        const hugeLines = lines(/413 for POST \/api\/huge-body/);
        assert.equal(hugeLines.length, 1, hugeLines.join('\n'));
        assert.match(hugeLines[0], /larger than any path accepts \(1048577 bytes\)/);
        const route = lines(/413 for POST \/api\/big-body/), unknown = lines(/413 for POST \/no-such-path/);
        assert.equal(route.length, 1, route.join('\n'));
        assert.match(route[0], /larger than limits\.max_body_size \(1024 bytes\)/);
        assert.equal(unknown.length, 1, unknown.join('\n'));
        assert.match(unknown[0], /larger than limits\.max_body_size \(1024 bytes\)/);
        assert.equal(upstream.requests.filter((q) => q.url === '/big-body').length, 0, 'the upstream never saw it');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('a chunked body over the limit also gets 413', async () => {
    const chunk = 'a'.repeat(16 * 1024);
    let req = 'POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    for (let i = 0; i < 5; i++) req += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    req += '0\r\n\r\n';
    const res = await rawRequest(kv.port, req, { untilClose: true });
    assert.match(res, /^HTTP\/1\.1 413 /);
});

test('headers over limits.max_header_size get 431 and a log line', async () => {
    const r = await http('GET', `${kv.url}/api/x`, { headers: { 'x-big': 'v'.repeat(5000) } });
    assert.equal(r.status, 431);
    await waitFor(() => /\[warn\] limits: 431 for \/api\/x: header section too large/.test(kv.stderr()), { message: '431 log' });
    assert.equal(upstream.requests.filter((q) => q.url === '/x').length, 0, 'the upstream never saw it');
});

test('more header fields than limits.max_headers get 431', async () => {
    const headers = {};
    for (let i = 0; i < 25; i++) headers[`x-h${i}`] = 'v';
    const r = await http('GET', `${kv.url}/healthz`, { headers });
    assert.equal(r.status, 431);
    await waitFor(() => /431 for \/healthz: too many header fields/.test(kv.stderr()), { message: '431 log' });
});

test('a request line and headers beyond h2o\'s parser cap get 400, and the server is unaffected', async () => {
    const res = await rawRequest(kv.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: ${'a'.repeat(500 * 1024)}\r\n\r\n`, {
        untilClose: true,
    });
    assert.match(res, /^HTTP\/1\.1 400 /);
    assert.equal((await http('GET', `${kv.url}/healthz`)).status, 200);
});

test('a route proxies to its upstream', async () => {
    const r = await http('GET', `${kv.url}/api/things?a=1`);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { path: '/things?a=1', method: 'GET', bytes: 0 });
    const seen = upstream.requests.find((q) => q.url === '/things?a=1');
    assert.ok(seen, 'the upstream saw the request');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
});

// h2o 2.2.5 gives a request to the first registered path that matches, so kvedge registers longest first.
test('a route "/" listed first swallows neither a longer route, the KV API nor the admin endpoints', async () => {
    const root = await startUpstream(async (req, res) => res.end(`root ${req.url}`));
    const token = 'kv-token-0123456789abcdef';
    const long = `/${'x'.repeat(70)}`; // two routes alike in their first 64 bytes keep separate metrics series
    const k = await startKvedge({
        redis: redis.url, threads: 1,
        routes: [{ path: '/', upstream: `${root.url}/` }, { path: '/api', upstream: `${upstream.url}/` },
            { path: `${long}/a`, upstream: `${upstream.url}/` }, { path: `${long}/b`, upstream: `${upstream.url}/` }],
        kv: { path: '/kv', tokens: [{ token }] },
    });
    try {
        const api = await http('GET', `${k.url}/api/longest-first`);
        assert.equal(api.status, 200);
        assert.equal(JSON.parse(api.body).path, '/longest-first');
        const other = await http('GET', `${k.url}/elsewhere`);
        assert.equal(other.status, 200);
        assert.equal(other.body, 'root /elsewhere');
        const kvRes = await http('POST', `${k.url}/kv`, { body: '["PING"]', headers: { authorization: `Bearer ${token}` } });
        assert.equal(kvRes.status, 200);
        assert.deepEqual(JSON.parse(kvRes.body), { result: 'PONG' });
        assert.equal((await http('GET', `${k.url}/healthz`)).body, 'ok\n');
        assert.equal(root.requests.filter((q) => /longest-first|kv|healthz/.test(q.url)).length, 0, 'route "/" saw none of them');
        assert.equal((await http('GET', `${k.url}${long}/a/1`)).status, 200);
        assert.equal((await http('GET', `${k.url}${long}/b/1`)).status, 200);
        const m = await http('GET', `${k.url}/metrics`);
        for (const p of [`${long}/a`, `${long}/b`])
            assert.match(m.body, new RegExp(`^kvedge_http_requests_total\\{route="proxy:${p}",status="200"\\} 1$`, 'm'), p);
    } finally {
        await stopKvedgeThen(k, root);
    }
});

test('a dead upstream gives 502 quickly, and the route recovers', async () => {
    const t0 = Date.now();
    const r = await http('GET', `${kv.url}/dead/x`);
    assert.equal(r.status, 502);
    assert.ok(Date.now() - t0 < 2000, 'connection refused is not a timeout');
    const m = await http('GET', `${kv.url}/metrics`);
    assert.match(m.body, /^kvedge_http_requests_total\{route="proxy:\/dead",status="502"\} [1-9]/m);
    // the upstream comes up: the same route serves again, with no restart of kvedge
    const revived = httpMod.createServer((req, res) => res.end(`revived ${req.url}`));
    await new Promise((ok, fail) => revived.once('error', fail).listen(dead, '127.0.0.1', ok));
    try {
        const ok = await waitFor(async () => {
            const x = await http('GET', `${kv.url}/dead/y`);
            return x.status === 200 && x;
        }, { message: 'the route recovers' });
        assert.equal(ok.body, 'revived /y');
    } finally {
        await new Promise((ok) => revived.close(ok));
    }
});

test('max_connections: a connection over the limit waits until another closes', async () => {
    const k = await startKvedge({ redis: redis.url, threads: 1, limits: { max_connections: 2 } });
    try {
        const hold = [];
        for (let i = 0; i < 2; i++) {
            const s = net.connect(k.port, '127.0.0.1');
            await new Promise((ok) => s.once('connect', ok));
            hold.push(s);
        }
        await sleep(100);
        let done = false;
        const p = http('GET', `${k.url}/healthz`, { timeoutMs: 10000 }).then((r) => {
            done = true;
            return r;
        });
        await sleep(500);
        assert.equal(done, false, 'the third connection is not served while two are open');
        hold[0].destroy();
        const r = await p;
        assert.equal(r.status, 200);
        hold[1].destroy();
        await waitFor(() => /max_connections \(2\) reached/.test(k.stderr()), { message: 'log line' });
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('admin token: 401 without it, 200 with it, and token_file works', async () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, 's3cret-token-value\n');
    const k = await startKvedge({ redis: redis.url, threads: 1, admin: { path: '/ops', token_file: file } }, {
        adminToken: 's3cret-token-value',
    });
    try {
        const no = await http('GET', `${k.url}/ops/metrics`);
        assert.equal(no.status, 401);
        assert.equal(no.headers['www-authenticate'], 'Bearer');
        const bad = await http('GET', `${k.url}/ops/metrics`, { headers: { authorization: 'Bearer wrong' } });
        assert.equal(bad.status, 401);
        const ok = await http('GET', `${k.url}/ops/metrics`, { headers: { authorization: 'Bearer s3cret-token-value' } });
        assert.equal(ok.status, 200);
        assert.equal((await http('GET', `${k.url}/healthz`)).status, 404, 'endpoints live under the prefix');
        assert.ok(!k.stderr().includes('s3cret'), 'the token never reaches the log');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('SIGUSR1 reopens the error log and the access log after rotation (SIGHUP reloads, see ops_reload)', async () => {
    const dir = makeTempDir();
    const errLog = path.join(dir, 'error.log');
    const accessLog = path.join(dir, 'access.log');
    const k = await startKvedge({ redis: redis.url, threads: 1, log: { error_log: errLog, access_log: accessLog } });
    try {
        await http('GET', `${k.url}/healthz`);
        await waitFor(() => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('GET /healthz'));
        fs.renameSync(errLog, `${errLog}.1`);
        fs.renameSync(accessLog, `${accessLog}.1`);
        process.kill(k.pid, 'SIGUSR1');
        await waitFor(() => fs.existsSync(errLog) && fs.existsSync(accessLog), { message: 'new log files' });
        await http('GET', `${k.url}/readyz`);
        await waitFor(() => fs.readFileSync(accessLog, 'utf8').includes('GET /readyz HTTP/1.1" 200'));
        assert.match(fs.readFileSync(`${errLog}.1`, 'utf8'), /received SIGUSR1, reopening log files/);
        assert.ok(!fs.readFileSync(`${accessLog}.1`, 'utf8').includes('/readyz'), 'old file no longer written');
    } finally {
        const r = await k.stop();
        assertCleanExit({ ...r, stderr: r.stderr + fs.readFileSync(errLog, 'utf8') });
        assert.match(fs.readFileSync(errLog, 'utf8'), /main: stopped/);
    }
});

// The KV API accepts ?_token=; neither the access log (%r) nor a warning line may carry it.
test('a token in the query (?_token=) reaches neither the access log nor the error log', async () => {
    const dir = makeTempDir();
    const accessLog = path.join(dir, 'access.log');
    const valid = 'valid-query-token-0123456789';
    const k = await startKvedge({
        redis: redis.url, threads: 1,
        limits: { max_header_size: '4KiB', max_body_size: '1KiB' },
        log: { access_log: accessLog },
        routes: [{ path: '/api', upstream: `${upstream.url}/` }],
        kv: { tokens: [{ token: valid }] },
    });
    const secrets = [valid, 'invalid-query-secret-1', 'header-limit-secret-2', 'body-limit-secret-3', 'encoded-name-secret-4'];
    try {
        const ok = await http('GET', `${k.url}/kv/ping?_token=${valid}`)
        assert.equal(ok.status, 200);
        assert.equal((await http('GET', `${k.url}/kv/ping?a=1&_token=${secrets[1]}`)).status, 401);
        const big = await http('GET', `${k.url}/kv/ping?_token=${secrets[2]}`, { headers: { 'x-big': 'v'.repeat(5000) } });
        assert.equal(big.status, 431);
        const body = await http('POST', `${k.url}/api/x?_token=${secrets[3]}`, { body: 'x'.repeat(2048) });
        assert.equal(body.status, 413);
        assert.equal((await http('GET', `${k.url}/kv/ping?%5Ftoken=${secrets[4]}&b=2`)).status, 401); // the KV API decodes names
        await waitFor(() => /431 for \/kv\/ping/.test(k.stderr()) && /413 for POST \/api\/x/.test(k.stderr()), { message: 'log lines' });
        // six lines: /healthz (the harness's readiness check) and the five requests above, each written after its response
        await waitFor(() => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').split('\n').length > 6, { message: 'access log' });
        const log = fs.readFileSync(accessLog, 'utf8');
        assert.match(log, /"GET \/kv\/ping\?_token=REDACTED HTTP\/1\.1" 200 /);
        assert.match(log, /"GET \/kv\/ping\?a=1&_token=REDACTED HTTP\/1\.1" 401 /);
        assert.match(log, /"GET \/kv\/ping\?%5Ftoken=REDACTED&b=2 HTTP\/1\.1" 401 /);
        for (const secret of secrets) {
            assert.ok(!log.includes(secret), `access log holds ${secret}`);
            assert.ok(!k.stderr().includes(secret), `error log holds ${secret}`);
        }
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('TLS listener serves HTTPS with HTTP/1.1 only (no h2 in ALPN by default)', async () => {
    const dir = makeTempDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
        '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const tlsPort = await freePort();
    const k = await startKvedge({
        redis: redis.url, threads: 1,
        listen: [{ port: 0 }, { port: tlsPort, tls: { cert_file: cert, key_file: key } }],
    });
    try {
        const res = await new Promise((resolve, reject) => {
            const req = https.request({ host: '127.0.0.1', port: tlsPort, path: '/healthz', rejectUnauthorized: false,
                ALPNProtocols: ['h2', 'http/1.1'] }, (r) => {
                let body = '';
                const alpn = r.socket.alpnProtocol;
                r.on('data', (d) => (body += d));
                r.on('end', () => resolve({ status: r.statusCode, body, alpn }));
            });
            req.on('error', reject);
            req.end();
        });
        assert.equal(res.status, 200);
        assert.equal(res.body, 'ok\n');
        assert.notEqual(res.alpn, 'h2');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('an access log on stdout with stdout closed is a startup error that says why', () => {
    const config = writeConfig({ listen: [{ port: 1 }], redis: 'redis://127.0.0.1:1', log: { access_log: '-' } });
    // `>&-` closes fd 1, so kvedge's dup(1) fails
    const r = spawnSync('sh', ['-c', 'exec "$0" -c "$1" >&-', path.resolve(process.env.KVEDGE_BIN), config], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /\[error\] main: cannot use stdout for the access log: Bad file descriptor\n/);
    assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/);
});

test('a listener that cannot bind is a startup error with a clear message and exit status 1', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((ok) => blocker.once('listening', ok));
    const port = blocker.address().port;
    try {
        await assert.rejects(startKvedge({ redis: redis.url, listen: [{ port }] }, { port }), /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
    } finally {
        blocker.close();
    }
});

// h2o 2.2.5 skips its own host-name check under TLS 1.3 (h2o-notes §9); kvedge has OpenSSL check it.
test('https upstreams: a certificate for the right name works, a wrong name or an unknown CA gets 502', async () => {
    const dir = makeTempDir();
    const makeCert = (name, san) => {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, `${name}.key`),
            '-out', path.join(dir, `${name}.pem`), '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`],
        { stdio: 'ignore' });
        return { key: fs.readFileSync(path.join(dir, `${name}.key`)), cert: fs.readFileSync(path.join(dir, `${name}.pem`)),
            file: path.join(dir, `${name}.pem`) };
    };
    const good = makeCert('good', 'IP:127.0.0.1');
    const wrong = makeCert('otherhost', 'DNS:otherhost');
    const serve = async (c) => {
        const srv = https.createServer({ key: c.key, cert: c.cert, minVersion: 'TLSv1.3' }, (req, res) => res.end('secret upstream'));
        await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
        return srv;
    };
    const up1 = await serve(good), up2 = await serve(wrong);
    const k = await startKvedge({
        redis: redis.url, threads: 1,
        routes: [
            { path: '/good', upstream: `https://127.0.0.1:${up1.address().port}/`, ca_file: good.file },
            { path: '/wrongname', upstream: `https://127.0.0.1:${up2.address().port}/`, ca_file: wrong.file },
            { path: '/unknownca', upstream: `https://127.0.0.1:${up1.address().port}/`, ca_file: wrong.file },
        ],
    });
    try {
        const ok = await http('GET', `${k.url}/good/x`);
        assert.equal(ok.status, 200);
        assert.equal(ok.body, 'secret upstream');
        for (const p of ['/wrongname/x', '/unknownca/x']) {
            const r = await http('GET', `${k.url}${p}`);
            assert.equal(r.status, 502, `${p}: ${r.status} ${r.body}`);
            assert.ok(!r.body.includes('secret upstream'));
        }
    } finally {
        try {
            assertCleanExit(await k.stop());
        } finally {
            up1.close();
            up2.close();
        }
    }
});

// An unreadable ca_file is a configuration error (tests/conf/bad/route_startup_checks.yaml); one that is
// readable but holds no certificate still fails at startup.
test('a ca_file without certificates for an https upstream is a startup error naming the file', async () => {
    const file = path.join(makeTempDir(), 'not-a-ca.pem');
    fs.writeFileSync(file, 'not a certificate\n');
    await assert.rejects(
        startKvedge({ redis: redis.url, routes: [{ path: '/s', upstream: 'https://127.0.0.1:1/', ca_file: file }] }),
        new RegExp(`cannot load CA certificates from ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)
    );
});
