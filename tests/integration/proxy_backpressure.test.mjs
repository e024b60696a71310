// Backpressure from the client to the upstream on proxied routes (limits.max_proxy_buffer). h2o 2.2.5's proxy kept
// reading the upstream while the client did not take what it had (lib/core/proxy.c on_body): a client that pauses on a
// large response from a fast upstream made kvedge hold the whole response in memory. Now a response stops reading its
// upstream once max_proxy_buffer bytes wait (proxy/h2o_private.h, kve_h2o_proxy_backpressure): here a client reads
// 1 MiB of a 256 MiB response, pauses, and kvedge's RSS and what the origin could send stay bounded; when it resumes
// every byte arrives, in order. On a plain and on a cached route, with Content-Length, chunked and close-delimited
// bodies; a client that leaves mid-way frees everything (ASan's leak check at exit); other clients are served
// meanwhile; a client that pauses longer than the route's timeout loses its response and frees the upstream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http_ from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { assertCleanExit, HOST, SANITIZE, sleep, startKvedge, startRedis, waitFor } from './harness.mjs';
import { makeCerts } from './httpclient_helpers.mjs';

const MIB = 1024 * 1024;
const SIZE = 256 * MIB;
const BLOCK = 64 * 1024;
// a block that is not periodic in any short length: a shifted, repeated or dropped chunk shows as a mismatch
const PATTERN = Buffer.alloc(BLOCK);
for (let i = 0, x = 2463534242; i < BLOCK; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    PATTERN[i] = x & 0xff;
}
// RSS growth allowed while a client pauses: about 2 * max_proxy_buffer (4 MiB) per response, plus socket buffers.
// Under ASan freed memory waits in a 32 MiB quarantine (set below) before reuse, and shadow memory counts too.
const MAX_GROWTH = (SANITIZE ? 32 + 64 : 32) * MIB;
// what the origin may have handed to its socket while the client pauses after 1 MiB, beyond what sits in the kernel's
// queues of the two loopback connections (kernelQueued(), measured: Linux autotunes them up to tcp_rmem's maximum):
// that MiB and what kvedge holds (measured 7-15 MiB; the bound was 48 MiB with the queues in it, when they were
// assumed to be a few MiB: up to 35 MiB of queues were seen on a loaded run). Without backpressure: all 256 MiB less
// the queues.
const MAX_SENT_WHILE_PAUSED = 32 * MIB;
// Over a TLS upstream one read event also holds the encrypted bytes it read (h2o decrypts them all into the input at
// once, [2.2.5 lib/common/socket/evloop.c.h:215 read_on_ready]), and buffers grow by doubling: measured 34 MiB of
// growth, 43 MiB sent while paused (without backpressure: 131 MiB and all 256 MiB).
const MAX_GROWTH_TLS = MAX_GROWTH + 16 * MIB;
const MAX_SENT_WHILE_PAUSED_TLS = 80 * MIB;
const ASAN_DEFAULT = 'detect_leaks=1:abort_on_error=1:halt_on_error=1:fast_unwind_on_malloc=0'; // as harness.mjs
const KVEDGE_ENV = SANITIZE ? { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? ASAN_DEFAULT}:quarantine_size_mb=32` } : {};

/**
 * Bytes waiting in the kernel's queues (Recv-Q + Send-Q, `ss`) of every established TCP socket on 127.0.0.1 with one
 * of `ports` at either end: the two loopback connections of a proxied response (client-kvedge, kvedge-origin), both
 * ends each. Linux autotunes those buffers up to net.ipv4.tcp_rmem's maximum (32 MiB on this machine), so what the
 * origin sent while a client pauses is that plus what kvedge holds: the test bounds kvedge's part.
 */
function kernelQueued(ports) {
    const out = execFileSync('ss', ['-tnH', 'state', 'established'], { encoding: 'utf8' });
    let bytes = 0;
    for (const line of out.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length < 4) continue;
        const portOf = (a) => Number(a.slice(a.lastIndexOf(':') + 1));
        if (ports.includes(portOf(f[2])) || ports.includes(portOf(f[3]))) bytes += Number(f[0]) + Number(f[1]);
    }
    return bytes;
}

function rssOf(pid) {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]) * 1024;
}

/**
 * A fast origin on raw sockets, so each body framing is exact: GET /big?mode=cl|chunked|close sends SIZE bytes of
 * PATTERN (Content-Length, chunked in 64 KiB chunks, or delimited by closing the connection) as fast as the socket
 * takes them; /small sends 1 KiB. HEAD sends the head only. `state.sent` counts the body bytes of the last /big handed
 * to the socket; `state.closed` counts connections that ended before their response was complete.
 */
async function startOrigin({ tlsFiles } = {}) {
    const state = { sent: 0, incomplete: 0, sockets: new Set() };
    const onConnection = (sock) => {
        state.sockets.add(sock);
        sock.on('close', () => state.sockets.delete(sock));
        sock.on('error', () => {});
        let buf = Buffer.alloc(0),
            busy = false;
        const next = async () => {
            const end = buf.indexOf('\r\n\r\n');
            if (busy || end < 0) return;
            busy = true;
            const head = buf.subarray(0, end).toString('latin1');
            buf = buf.subarray(end + 4);
            const [method, target] = head.split(' ');
            await serve(sock, method, new URL(target, 'http://o'));
            busy = false;
            if (!sock.destroyed) next();
        };
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            next();
        });
    };
    const server = tlsFiles
        ? tls.createServer({ key: fs.readFileSync(tlsFiles.key), cert: fs.readFileSync(tlsFiles.cert) }, onConnection)
        : net.createServer(onConnection);
    const write = (sock, data) =>
        new Promise((resolve) => {
            if (sock.destroyed) return resolve(false);
            if (sock.write(data)) return resolve(true);
            const done = () => {
                sock.off('drain', done);
                sock.off('close', done);
                resolve(!sock.destroyed);
            };
            sock.once('drain', done);
            sock.once('close', done);
        });
    async function serve(sock, method, url) {
        const small = url.pathname === '/small';
        const mode = url.searchParams.get('mode') ?? 'cl';
        const total = small ? 1024 : Number(url.searchParams.get('size') ?? SIZE);
        const framing = mode === 'chunked' ? 'transfer-encoding: chunked' : mode === 'close' ? 'connection: close' : `content-length: ${total}`;
        const cc = url.searchParams.get('cc') ?? 'no-store';
        await write(sock, `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncache-control: ${cc}\r\n${framing}\r\n\r\n`);
        if (method === 'HEAD') return;
        if (!small) state.sent = 0;
        for (let left = total; left > 0; ) {
            const n = Math.min(left, BLOCK);
            const body = n === BLOCK ? PATTERN : PATTERN.subarray(0, n);
            const data = mode === 'chunked' ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : body;
            if (!(await write(sock, data))) {
                state.incomplete++;
                return;
            }
            left -= n;
            if (!small) state.sent += n;
        }
        if (mode === 'chunked') await write(sock, '0\r\n\r\n');
        if (mode === 'close') sock.end();
    }
    await new Promise((resolve) => server.listen({ host: HOST, port: 0 }, resolve));
    return {
        state,
        port: server.address().port,
        url: `${tlsFiles ? 'https' : 'http'}://${HOST}:${server.address().port}`,
        stop: () => {
            for (const s of state.sockets) s.destroy();
            return new Promise((resolve) => server.close(resolve));
        },
    };
}

/**
 * GETs `url`, checks every byte against PATTERN; after `pauseAfter` bytes it pauses reading and awaits `whilePaused()`
 * (which may return 'abort' to destroy the request), then reads on. Resolves with the status, the bytes received, the
 * first mismatch (-1: none) and whether the response ended complete.
 */
function pausedGet(url, { pauseAfter = MIB, whilePaused = async () => {} } = {}) {
    return new Promise((resolve, reject) => {
        let received = 0,
            mismatchAt = -1,
            paused = false,
            done = false;
        const finish = (res, complete) => {
            if (done) return;
            done = true;
            resolve({ status: res?.statusCode, headers: res?.headers, received, mismatchAt, complete });
        };
        const req = http_.get(url, { agent: false }, (res) => {
            res.on('data', (chunk) => {
                if (mismatchAt < 0) {
                    for (let i = 0; i < chunk.length; ) {
                        const p = (received + i) % BLOCK;
                        const n = Math.min(chunk.length - i, BLOCK - p);
                        if (chunk.compare(PATTERN, p, p + n, i, i + n) !== 0) {
                            mismatchAt = received + i;
                            break;
                        }
                        i += n;
                    }
                }
                received += chunk.length;
                if (!paused && received >= pauseAfter) {
                    paused = true;
                    res.pause();
                    whilePaused().then((what) => {
                        if (what === 'abort') {
                            req.destroy();
                            finish(res, false);
                        } else {
                            res.resume();
                        }
                    }, reject);
                }
            });
            res.on('end', () => finish(res, res.complete));
            res.on('aborted', () => finish(res, false));
            res.on('error', () => finish(res, false));
            res.on('close', () => finish(res, res.complete));
        });
        req.setTimeout(50_000, () => req.destroy(new Error('the response did not arrive in time')));
        req.on('error', (e) => (done ? undefined : reject(e)));
    });
}

/** Samples kvedge's RSS every 50 ms for `ms`; returns the largest. */
async function maxRssDuring(pid, ms) {
    let max = 0;
    for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) max = Math.max(max, rssOf(pid));
    return max;
}

async function setup(routeExtra = {}, { tlsFiles, http2: h2 = false } = {}) {
    const redis = await startRedis();
    const origin = await startOrigin({ tlsFiles });
    const k = await startKvedge(
        {
            threads: 1,
            http2: h2,
            redis: redis.url,
            routes: [
                { path: '/plain', upstream: `${origin.url}/`, ...routeExtra },
                { path: '/cached', upstream: `${origin.url}/`, cache: { max_object_size: '8MiB' }, ...routeExtra },
            ],
        },
        { env: KVEDGE_ENV },
    );
    // warm-up: the first connections' buffers are in the baseline
    for (const p of ['/plain', '/cached']) {
        const r = await pausedGet(`${k.url}${p}/small`, { pauseAfter: Infinity });
        assert.equal(r.status, 200);
    }
    await sleep(200);
    return {
        redis,
        origin,
        k,
        async stop() {
            assertCleanExit(await k.stop());
            await origin.stop();
            await redis.stop();
        },
    };
}

const cases = [
    ['/plain', 'cl'],
    ['/plain', 'chunked'],
    ['/plain', 'close'],
    ['/cached', 'cl'],
    ['/cached', 'chunked'],
];

for (const [route, mode] of cases) {
    test(`proxy backpressure: a client that pauses on 256 MiB (${route} route, ${mode}) keeps kvedge's memory bounded and gets every byte`, { timeout: 60_000 }, async () => {
        const s = await setup();
        try {
            const base = rssOf(s.k.pid);
            let pausedRss = 0,
                sentWhilePaused = 0,
                queued = 0;
            // cached route: a cacheable response (over max_object_size: the tee gives up its capture, nothing is stored)
            const cc = route === '/cached' ? '&cc=max-age%3D60' : '';
            const r = await pausedGet(`${s.k.url}${route}/big?mode=${mode}${cc}`, {
                whilePaused: async () => {
                    pausedRss = await maxRssDuring(s.k.pid, 2500);
                    sentWhilePaused = s.origin.state.sent;
                    queued = kernelQueued([s.origin.port, s.k.port]);
                },
            });
            console.log(`${route} ${mode}: while paused the origin sent ${(sentWhilePaused / MIB).toFixed(1)} MiB ` +
                `(${(queued / MIB).toFixed(1)} MiB of it in the kernel's queues), kvedge RSS ` +
                `${(base / MIB).toFixed(1)} -> ${(pausedRss / MIB).toFixed(1)} MiB`);
            assert.equal(r.status, 200);
            assert.ok(sentWhilePaused - queued < MAX_SENT_WHILE_PAUSED,
                `the origin sent ${(sentWhilePaused / MIB).toFixed(1)} MiB while the client paused, ${(queued / MIB).toFixed(1)} MiB ` +
                    'of it in the kernel\'s queues');
            assert.ok(pausedRss - base < MAX_GROWTH, `RSS grew by ${((pausedRss - base) / MIB).toFixed(1)} MiB while the client paused`);
            assert.equal(r.mismatchAt, -1, `the bytes differ from the origin's from offset ${r.mismatchAt}`);
            assert.equal(r.received, SIZE, 'every byte arrived');
            assert.equal(r.complete, true);
            if (route === '/cached') assert.match(r.headers['cache-status'] ?? '', /fwd=uri-miss/);
            assert.equal(s.k.running, true);
        } finally {
            await s.stop();
        }
    });
}

test('proxy backpressure: over a TLS upstream, a paused client keeps memory bounded and gets every byte', { timeout: 60_000 }, async () => {
    const certs = makeCerts();
    const leaf = certs.leaf({ ip: [HOST] });
    const s = await setup({ ca_file: certs.ca.cert }, { tlsFiles: leaf });
    try {
        const base = rssOf(s.k.pid);
        let pausedRss = 0,
            sentWhilePaused = 0,
            queued = 0;
        const r = await pausedGet(`${s.k.url}/plain/big?mode=chunked`, {
            whilePaused: async () => {
                pausedRss = await maxRssDuring(s.k.pid, 2500);
                sentWhilePaused = s.origin.state.sent;
                queued = kernelQueued([s.origin.port, s.k.port]);
            },
        });
        console.log(`TLS upstream: while paused the origin sent ${(sentWhilePaused / MIB).toFixed(1)} MiB, kvedge RSS ` +
            `${(base / MIB).toFixed(1)} -> ${(pausedRss / MIB).toFixed(1)} MiB`);
        assert.equal(r.status, 200);
        assert.ok(sentWhilePaused - queued < MAX_SENT_WHILE_PAUSED_TLS, `the origin sent ${(sentWhilePaused / MIB).toFixed(1)} MiB while the client paused`);
        assert.ok(pausedRss - base < MAX_GROWTH_TLS, `RSS grew by ${((pausedRss - base) / MIB).toFixed(1)} MiB while the client paused`);
        assert.equal(r.mismatchAt, -1);
        assert.equal(r.received, SIZE);
        assert.equal(r.complete, true);
    } finally {
        await s.stop();
        fs.rmSync(certs.dir, { recursive: true, force: true });
    }
});

test('proxy backpressure: an HTTP/2 client that pauses a stream keeps memory bounded; another stream on the connection is served; every byte arrives', { timeout: 60_000 }, async () => {
    const s = await setup({}, { http2: true });
    const session = http2.connect(s.k.url); // h2c with prior knowledge
    try {
        const base = rssOf(s.k.pid);
        let pausedRss = 0,
            sentWhilePaused = 0,
            queued = 0;
        const r = await new Promise((resolve, reject) => {
            const stream = session.request({ ':path': '/plain/big?mode=cl' });
            let received = 0,
                mismatchAt = -1,
                paused = false,
                status;
            stream.on('response', (h) => (status = h[':status']));
            stream.on('data', (chunk) => {
                for (let i = 0; mismatchAt < 0 && i < chunk.length; ) {
                    const p = (received + i) % BLOCK;
                    const n = Math.min(chunk.length - i, BLOCK - p);
                    if (chunk.compare(PATTERN, p, p + n, i, i + n) !== 0) mismatchAt = received + i;
                    i += n;
                }
                received += chunk.length;
                if (!paused && received >= MIB) {
                    paused = true;
                    stream.pause();
                    (async () => {
                        pausedRss = await maxRssDuring(s.k.pid, 2000);
                        sentWhilePaused = s.origin.state.sent;
                        queued = kernelQueued([s.origin.port, s.k.port]);
                        // another stream on the same connection, meanwhile
                        const small = await new Promise((res2, rej2) => {
                            const st = session.request({ ':path': '/plain/small' });
                            let n = 0;
                            st.on('data', (c) => (n += c.length));
                            st.on('end', () => res2(n));
                            st.on('error', rej2);
                        });
                        assert.equal(small, 1024);
                        stream.resume();
                    })().catch(reject);
                }
            });
            stream.on('end', () => resolve({ status, received, mismatchAt }));
            stream.on('error', reject);
        });
        console.log(`HTTP/2: while paused the origin sent ${(sentWhilePaused / MIB).toFixed(1)} MiB, kvedge RSS ` +
            `${(base / MIB).toFixed(1)} -> ${(pausedRss / MIB).toFixed(1)} MiB`);
        assert.equal(r.status, 200);
        assert.ok(sentWhilePaused - queued < MAX_SENT_WHILE_PAUSED, `the origin sent ${(sentWhilePaused / MIB).toFixed(1)} MiB while the client paused`);
        assert.ok(pausedRss - base < MAX_GROWTH, `RSS grew by ${((pausedRss - base) / MIB).toFixed(1)} MiB while the client paused`);
        assert.equal(r.mismatchAt, -1);
        assert.equal(r.received, SIZE);
    } finally {
        session.close();
        await s.stop();
    }
});

test('proxy backpressure: a client that leaves while paused frees its response and upstream connection; others are served meanwhile; HEAD is unaffected', { timeout: 60_000 }, async () => {
    const s = await setup();
    try {
        const base = rssOf(s.k.pid);
        for (const route of ['/plain', '/cached']) {
            const incomplete = s.origin.state.incomplete;
            const r = await pausedGet(`${s.k.url}${route}/big?mode=cl`, {
                whilePaused: async () => {
                    await sleep(500);
                    // another client, meanwhile: a small response, a HEAD of the large one, and 32 MiB read whole
                    const small = await pausedGet(`${s.k.url}${route}/small`, { pauseAfter: Infinity });
                    assert.equal(small.status, 200);
                    assert.equal(small.received, 1024);
                    const head = await new Promise((resolve, reject) => {
                        const req = http_.request(`${s.k.url}${route}/big?mode=cl`, { method: 'HEAD', agent: false }, (res) => {
                            res.resume();
                            res.on('end', () => resolve(res));
                        });
                        req.on('error', reject);
                        req.end();
                    });
                    assert.equal(head.statusCode, 200);
                    assert.equal(head.headers['content-length'], String(SIZE));
                    const other = await pausedGet(`${s.k.url}${route}/big?mode=chunked`, { pauseAfter: 32 * MIB, whilePaused: async () => 'abort' });
                    assert.equal(other.mismatchAt, -1);
                    assert.ok(other.received >= 32 * MIB);
                    return 'abort';
                },
            });
            assert.equal(r.complete, false);
            assert.ok(r.received < SIZE);
            // kvedge closed the upstream connection of each abandoned response: the origin's writes fail
            await waitFor(() => s.origin.state.incomplete >= incomplete + 2, { timeoutMs: 10_000, message: 'the origin saw both responses abandoned' });
        }
        await sleep(300);
        const after = rssOf(s.k.pid);
        assert.ok(after - base < MAX_GROWTH, `RSS grew by ${((after - base) / MIB).toFixed(1)} MiB after the clients left`);
        // and the routes still work
        const again = await pausedGet(`${s.k.url}/plain/small`, { pauseAfter: Infinity });
        assert.equal(again.status, 200);
        assert.equal(s.k.running, true);
    } finally {
        await s.stop(); // ASan build: leak check at exit
    }
});

test("proxy backpressure: a client that pauses longer than the route's timeout loses the response, and kvedge frees the upstream", { timeout: 60_000 }, async () => {
    const s = await setup({ timeout: '1s' });
    try {
        const incomplete = s.origin.state.incomplete;
        const r = await pausedGet(`${s.k.url}/plain/big?mode=cl`, {
            whilePaused: async () => {
                // the upstream I/O timeout fires while reading is stopped: kvedge closes the upstream connection
                await waitFor(() => s.origin.state.incomplete > incomplete, { timeoutMs: 10_000, message: 'kvedge closed the upstream' });
            },
        });
        assert.equal(r.status, 200);
        assert.equal(r.mismatchAt, -1, 'what arrived is intact');
        assert.equal(r.complete, false, 'the response ends in error (short of its Content-Length)');
        assert.ok(r.received < SIZE);
        // a client that keeps reading is not affected by the timeout
        const ok = await pausedGet(`${s.k.url}/plain/big?mode=chunked`, { pauseAfter: Infinity });
        assert.equal(ok.received, SIZE);
        assert.equal(ok.complete, true);
        assert.equal(s.k.running, true);
    } finally {
        await s.stop();
    }
});

test("proxy backpressure: a slow client that keeps reading keeps its response, though it takes longer than the route's timeout to take max_proxy_buffer", { timeout: 60_000 }, async () => {
    const s = await setup({ timeout: '1s' });
    try {
        // about 4 MiB/s: the 4 MiB kvedge holds for it take longer than the 1 s timeout to drain; the timeout runs from
        // the client's last progress
        const size = 24 * MIB;
        const t0 = Date.now();
        const r = await new Promise((resolve, reject) => {
            let received = 0,
                mismatchAt = -1,
                nextPause = 256 * 1024;
            const req = http_.get(`${s.k.url}/plain/big?mode=cl&size=${size}`, { agent: false }, (res) => {
                res.on('data', (chunk) => {
                    for (let i = 0; mismatchAt < 0 && i < chunk.length; ) {
                        const p = (received + i) % BLOCK;
                        const n = Math.min(chunk.length - i, BLOCK - p);
                        if (chunk.compare(PATTERN, p, p + n, i, i + n) !== 0) mismatchAt = received + i;
                        i += n;
                    }
                    received += chunk.length;
                    if (received >= nextPause) {
                        nextPause += 256 * 1024;
                        res.pause();
                        setTimeout(() => res.resume(), 60);
                    }
                });
                res.on('end', () => resolve({ status: res.statusCode, received, mismatchAt, complete: res.complete }));
                res.on('aborted', () => resolve({ status: res.statusCode, received, mismatchAt, complete: false }));
                res.on('error', () => resolve({ status: res.statusCode, received, mismatchAt, complete: false }));
            });
            req.on('error', reject);
        });
        const secs = (Date.now() - t0) / 1000;
        console.log(`slow client: ${(r.received / MIB).toFixed(1)} MiB in ${secs.toFixed(1)} s`);
        assert.equal(r.status, 200);
        assert.equal(r.mismatchAt, -1);
        assert.equal(r.received, size, 'every byte arrived (the upstream timeout did not cut the response)');
        assert.equal(r.complete, true);
        assert.ok(secs > 3, `the client was not slow (${secs} s): the test proves nothing`);
    } finally {
        await s.stop();
    }
});
