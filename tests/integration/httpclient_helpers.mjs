// Helpers for the HTTP client's integration tests (tests/integration/httpclient_*.test.mjs).
//
// The client (proxy/httpclient.h) has no user in kvedge yet, so the tests drive it through kve_hc_driver
// (tests/tools/): kvedge's server plus /_hc/<name>/... paths that forward through the client and
// /_hc_stats/<name> (its counters). The upstreams are real servers on 127.0.0.1: node's http/https, raw
// TCP servers that answer whatever a test wants (garbage, stalls, early closes), and a TCP black hole.

import { after } from 'node:test';
import { spawn, execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http_ from 'node:http';
import net from 'node:net';
import path from 'node:path';

import { HOST, SANITIZE, startKvedge, makeTempDir, http, sleep } from './harness.mjs';

export const PATTERN_PERIOD = 251;

function driverBin() {
    const bin = process.env.KVEDGE_HC_DRIVER;
    if (!bin) throw new Error('KVEDGE_HC_DRIVER is not set (ctest sets it; by hand: KVEDGE_HC_DRIVER=build/tests/kve_hc_driver)');
    return path.resolve(bin);
}

/** The body kve_hc_driver generates for x-hc-gen-body: byte i = i % 251. */
export function pattern(n) {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = i % PATTERN_PERIOD;
    return b;
}

export function sha256(buf) {
    return crypto.createHash('sha256').update(buf).digest('hex');
}

/**
 * Starts kve_hc_driver with one thread and the given upstreams: {name: 'URL[,key=value...]'}.
 * Returns the harness's kvedge object plus get/request/stats helpers.
 */
export async function startDriver(upstreams, config = {}, { env } = {}) {
    const args = [];
    for (const [name, spec] of Object.entries(upstreams)) args.push('--upstream', `${name}=${spec}`);
    const drv = await startKvedge({ threads: 1, ...config }, { bin: driverBin(), args, env });
    drv.hc = (name, p, opts = {}) => http(opts.method ?? 'GET', `${drv.url}/_hc/${name}${p}`, opts);
    drv.stats = async (name) => JSON.parse((await http('GET', `${drv.url}/_hc_stats/${name}`)).body);
    return drv;
}

/** Waits until the driver's counters for `name` satisfy pred (they are updated after the response is written). */
export async function waitStats(drv, name, pred, what = 'stats') {
    const deadline = Date.now() + 5000;
    let s;
    for (;;) {
        s = await drv.stats(name);
        if (pred(s)) return s;
        if (Date.now() > deadline) assert.fail(`${what}: not reached; last ${JSON.stringify(s)}`);
        await sleep(20);
    }
}

const servers = new Set();
after(async () => {
    for (const s of servers) {
        s.closeAllConnections?.();
        await new Promise((r) => s.close(() => r()));
    }
    servers.clear();
});

async function listen(server) {
    servers.add(server);
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: HOST, port: 0, backlog: 1024 }, resolve);
    });
    return server.address().port;
}

/**
 * A node HTTP/1.1 upstream that counts connections and the requests seen on each. `handler(req, res, info)`
 * gets info = {connId, seq} and answers; without one, a small 200 JSON echo.
 */
export async function startHttpUpstream(handler, { tls } = {}) {
    let nextConn = 0;
    const requests = [];
    const mod = tls ? (await import('node:https')).default : http_;
    const opts = { keepAlive: true, noDelay: true, ...(tls ?? {}) };
    const server = mod.createServer(opts, (req, res) => {
        const connId = req.socket.__id;
        const info = { connId, seq: requests.length };
        requests.push({ method: req.method, url: req.url, headers: req.headers, connId });
        if (handler) return handler(req, res, info);
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const body = Buffer.concat(chunks);
            const payload = JSON.stringify({ method: req.method, url: req.url, length: body.length, sha256: sha256(body), connId });
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
            res.end(payload);
        });
    });
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    server.requestTimeout = 0;
    const connEvent = tls ? 'secureConnection' : 'connection';
    server.on(connEvent, (sock) => {
        sock.__id = nextConn++;
    });
    const port = await listen(server);
    return {
        port,
        url: `${tls ? 'https' : 'http'}://${HOST}:${port}`,
        server,
        requests,
        connections: () => nextConn,
        stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); servers.delete(server); }),
    };
}

/**
 * A raw TCP upstream: `onRequest(sock, head, index)` runs once per request head read on a connection
 * (the test writes any bytes it wants, closes, or does nothing). Counts connections.
 */
export async function startRawUpstream(onRequest) {
    let conns = 0;
    const sockets = new Set();
    const server = net.createServer((sock) => {
        conns++;
        sockets.add(sock);
        sock.setNoDelay(true);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => {});
        let buf = Buffer.alloc(0);
        let index = 0;
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            for (;;) {
                const end = buf.indexOf('\r\n\r\n');
                if (end < 0) return;
                const head = buf.subarray(0, end).toString('latin1');
                const cl = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
                if (buf.length < end + 4 + cl) return;
                buf = buf.subarray(end + 4 + cl);
                onRequest(sock, head, index++);
            }
        });
    });
    server.closeAllConnections = () => { for (const s of sockets) s.destroy(); };
    const port = await listen(server);
    return { port, url: `http://${HOST}:${port}`, connections: () => conns, server };
}

/** A TCP black hole (kve_hc_driver blackhole): connects to it hang. Returns {port, stop()}. */
export async function startBlackhole() {
    const child = spawn(driverBin(), ['blackhole'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const port = await new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
            out += d;
            if (out.includes('\n')) resolve(Number(out.trim()));
        });
        child.once('exit', (code) => reject(new Error(`blackhole exited (${code})`)));
    });
    const stop = () =>
        new Promise((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.stdin.end(); // it stops when stdin closes
        });
    after(stop);
    return { port, stop };
}

/**
 * Environment for a driver whose memory is measured: in sanitizer builds ASan's quarantine keeps every freed
 * block resident (hundreds of MiB after streaming 50 MiB through short-lived buffers), so it is turned off.
 */
export function measuredEnv() {
    if (!SANITIZE) return undefined;
    const base = process.env.ASAN_OPTIONS ?? 'detect_leaks=1:abort_on_error=1:halt_on_error=1:fast_unwind_on_malloc=0';
    return { ASAN_OPTIONS: `${base}:quarantine_size_mb=0:thread_local_quarantine_size_kb=0` };
}

/** The driver's memory high-water mark (VmHWM) in KiB. */
export function peakRssKiB(pid) {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]);
}

/**
 * Certificates made with openssl in a temp dir: a CA, a second (untrusted) CA, and leaf certificates.
 * leaf(name, {dns, ip, ca}) -> {key, cert} file paths.
 */
export function makeCerts() {
    const dir = makeTempDir('kvedge-hc-certs-');
    const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const makeCa = (name) => {
        ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
            '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`,
            '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
        return { key: path.join(dir, `${name}.key`), cert: path.join(dir, `${name}.crt`) };
    };
    const ca = makeCa('test-ca');
    const otherCa = makeCa('untrusted-ca');
    let n = 0;
    const leaf = ({ dns = [], ip = [], signer = ca } = {}) => {
        const base = `leaf${n++}`;
        const san = [...dns.map((d) => `DNS:${d}`), ...ip.map((i) => `IP:${i}`)].join(',');
        fs.writeFileSync(path.join(dir, `${base}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
        ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${dns[0] ?? ip[0]}`,
            '-keyout', `${base}.key`, '-out', `${base}.csr`);
        ossl('x509', '-req', '-in', `${base}.csr`, '-CA', signer.cert, '-CAkey', signer.key, '-CAcreateserial', '-days', '2',
            '-extfile', `${base}.ext`, '-out', `${base}.crt`);
        return { key: path.join(dir, `${base}.key`), cert: path.join(dir, `${base}.crt`) };
    };
    return { dir, ca, otherCa, leaf };
}

/** Reads a streamed response slowly: pauses `pauseMs` after the first chunk, then reads to the end. */
export function getPaused(url, { headers = {}, pauseMs = 0, onPaused } = {}) {
    return new Promise((resolve, reject) => {
        let started = false;
        const req = http_.request(url, { headers, agent: false }, (res) => {
            started = true;
            const hash = crypto.createHash('sha256');
            let bytes = 0;
            let paused = false;
            res.on('data', async (c) => {
                hash.update(c);
                bytes += c.length;
                if (!paused && pauseMs > 0) {
                    paused = true;
                    res.pause();
                    await sleep(pauseMs);
                    if (onPaused) await onPaused();
                    res.resume();
                }
            });
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, sha256: hash.digest('hex'), complete: res.complete }));
            res.on('error', (e) => resolve({ status: res.statusCode, bytes, error: e, complete: false }));
            res.on('aborted', () => resolve({ status: res.statusCode, bytes, error: new Error('aborted'), complete: false }));
        });
        // h2o aborts a started chunked response with a malformed chunk ("\r\n1\r\n") and a close: a parse error here
        req.on('error', (e) => (started ? resolve({ bytes: 0, error: e, complete: false }) : reject(e)));
        req.end();
    });
}

export { HOST, SANITIZE, sleep, http };
