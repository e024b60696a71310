// Integration test harness for kvedge (Node 20, ESM; node built-ins + ioredis only).
//
// What it gives a test (see harness_selftest.test.mjs for usage):
//   startRedis()     a private redis-server on a free 127.0.0.1 port (never the system one on 6379)
//   startUpstream()  a recording HTTP/1.1 origin ("origin saw exactly 1 request" proves a cache hit)
//   writeConfig()    YAML config from a plain JS object
//   startKvedge()    kvedge on 127.0.0.1, waited for on /healthz; stop() -> {code, signal, stderr}
//   assertCleanExit  exit 0 and no sanitizer report
//   http(), rawRequest(), waitFor(), sleep(), freePort(), runKvedge()
//
// Rules: only 127.0.0.1; a test that needs a server it cannot start fails (never skips); every child
// process is tracked by PID and SIGKILLed on exit if a test forgot it (never killed by name).
// Temp dirs (configs, logs, data) are removed when the process exits 0; kept (and listed on stderr)
// after a failure or with KVEDGE_KEEP_TMP=1.

import { after } from 'node:test';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http_ from 'node:http';
import https_ from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleepPromise } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export const HOST = '127.0.0.1';
export const SANITIZE = /^(1|on|yes|true|y)$/i.test(process.env.KVEDGE_SANITIZE ?? '');
export const SOURCE_DIR = process.env.KVEDGE_SOURCE_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const SANITIZER_MARKERS = ['AddressSanitizer', 'LeakSanitizer', 'runtime error:', 'UndefinedBehaviorSanitizer'];

// ---------------------------------------------------------------------------------------------
// small utilities

export function sleep(ms) {
    return sleepPromise(ms);
}

/** Poll fn (sync or async) until it returns a truthy value; returns that value. Exceptions count as "not yet". */
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 50, message = 'condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    let lastError;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (e) {
            lastError = e;
        }
        if (Date.now() >= deadline) {
            const why = lastError ? ` (last error: ${lastError.message ?? lastError})` : '';
            throw new Error(`waitFor: ${message} not met within ${timeoutMs} ms${why}`);
        }
        await sleep(intervalMs);
    }
}

/** A port that was free a moment ago (listen on 127.0.0.1:0, read it, close). */
export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen({ host: HOST, port: 0, exclusive: true }, () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

const tmpDirs = [];
/** A fresh temp dir (short path: unix socket paths under it must stay below 108 bytes). */
export function makeTempDir(prefix = 'kvedge-test-') {
    const base = process.env.KVEDGE_TEST_TMP || os.tmpdir();
    const dir = fs.mkdtempSync(path.join(base, prefix));
    tmpDirs.push(dir);
    return dir;
}

// ---------------------------------------------------------------------------------------------
// process registry + safety net

const live = new Map(); // pid -> {child, group, name}

function track(child, name, group) {
    if (child.pid === undefined) return;
    live.set(child.pid, { child, group, name });
    child.once('exit', () => live.delete(child.pid));
}

function killTracked(signal) {
    for (const [pid, { group }] of live) {
        // Our children are process-group leaders (detached), so -pid also reaches what they spawned
        // (kvedge's embedded redis-server). Both are ids we created; nothing is killed by name.
        if (group) {
            try {
                process.kill(-pid, signal);
            } catch {}
        }
        try {
            process.kill(pid, signal);
        } catch {}
    }
}

process.on('exit', (code) => {
    if (live.size > 0) {
        const names = [...live].map(([pid, { name }]) => `${name}[${pid}]`).join(', ');
        process.stderr.write(`harness: killing leftover processes: ${names}\n`);
        killTracked('SIGKILL');
    }
    if (code === 0 && !process.env.KVEDGE_KEEP_TMP) {
        for (const dir of tmpDirs) {
            try {
                fs.rmSync(dir, { recursive: true, force: true });
            } catch {}
        }
    } else if (tmpDirs.length > 0) {
        process.stderr.write(`harness: kept temp dirs:\n  ${tmpDirs.join('\n  ')}\n`);
    }
});
// A test that failed before its cleanup leaves children and servers whose handles keep this process
// alive. The file's own after() hooks run after this one (registration order), so nothing is killed
// here: an unref'd timer fires only if the process is still alive 10 s after the last hook, which
// means the file's cleanup did not happen; then leftovers are killed so the file can end (its failure
// is already reported).
const openServers = new Set();
after(() => {
    setTimeout(() => {
        if (live.size === 0 && openServers.size === 0) return;
        const names = [...live].map(([pid, { name }]) => `${name}[${pid}]`).join(', ');
        process.stderr.write(`harness: cleanup did not happen; killing leftovers: ${names} (+${openServers.size} servers)\n`);
        killTracked('SIGKILL');
        for (const server of openServers) {
            server.closeAllConnections();
            server.close();
        }
    }, 10_000).unref();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
        killTracked('SIGKILL');
        process.exit(128 + os.constants.signals[sig]);
    });
}

// A spawned child with its output kept in memory and mirrored to files.
function spawnTracked(name, bin, args, { env, cwd, logDir }) {
    const child = spawn(bin, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out = { stdout: [], stderr: [] };
    const fds = {};
    for (const stream of ['stdout', 'stderr']) {
        fds[stream] = logDir ? fs.openSync(path.join(logDir, `${name}.${stream}.log`), 'a') : null;
        child[stream].on('data', (chunk) => {
            out[stream].push(chunk);
            if (fds[stream] !== null) fs.writeSync(fds[stream], chunk);
            if (process.env.KVEDGE_TEST_VERBOSE) process.stderr.write(`[${name} ${stream}] ${chunk}`);
        });
    }
    const state = { exited: false, code: null, signal: null, spawnError: null };
    const closeFds = () => {
        for (const k of Object.keys(fds)) {
            if (fds[k] !== null) fs.closeSync(fds[k]);
            fds[k] = null;
        }
    };
    // 'close' (not 'exit'): all output has been read by then.
    state.done = new Promise((resolve) => {
        child.once('error', (err) => {
            // ENOENT/EACCES: no 'exit' follows.
            state.spawnError = err;
            state.exited = true;
            closeFds();
            resolve(state);
        });
        child.once('close', (code, signal) => {
            state.exited = true;
            state.code = code;
            state.signal = signal;
            closeFds();
            resolve(state);
        });
    });
    track(child, name, true);
    const text = (stream) => Buffer.concat(out[stream]).toString('utf8');
    return { child, state, stdout: () => text('stdout'), stderr: () => text('stderr') };
}

function withTimeout(promise, ms) {
    let timer;
    return Promise.race([
        promise.finally(() => clearTimeout(timer)),
        new Promise((resolve) => {
            timer = setTimeout(() => resolve(undefined), ms);
        }),
    ]);
}

function sendSignal(child, signal) {
    try {
        process.kill(child.pid, signal);
        return true;
    } catch {
        return false;
    }
}

// ---------------------------------------------------------------------------------------------
// redis-server

function pingRedis(port, timeoutMs = 1000) {
    return new Promise((resolve) => {
        const sock = net.connect({ host: HOST, port });
        let buf = '';
        const finish = (ok) => {
            sock.destroy();
            resolve(ok);
        };
        sock.setTimeout(timeoutMs, () => finish(false));
        sock.on('error', () => finish(false));
        sock.on('connect', () => sock.write('PING\r\n'));
        sock.on('data', (d) => {
            buf += d.toString('latin1');
            if (buf.includes('\r\n')) finish(buf.startsWith('+PONG'));
        });
        sock.on('end', () => finish(false));
    });
}

/** One MONITOR line's quoted arguments ("..." with C escapes) as strings. */
function monitorArgs(line) {
    return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\x([0-9a-f]{2})|\\(.)/g,
        (_, hex, c) => (hex ? String.fromCharCode(parseInt(hex, 16)) : ({ n: '\n', r: '\r', t: '\t' })[c] ?? c)));
}

/**
 * MONITOR on the redis-server at 127.0.0.1:`port`, over a plain socket: not ioredis' monitor(), which races its own
 * ready check against the first MONITOR lines ("Command queue state error", which failed a CI run) and leaves the
 * client it was made from connected. Resolves once Redis answered +OK, so every command run after that is seen.
 * Returns {seen, disconnect()}: `seen` fills with {args, lua} (lua: run by a script, not sent by a client);
 * `onCommand(entry)` is called for each as well.
 */
export function monitorRedis(port, { onCommand } = {}) {
    const seen = [];
    const sock = net.connect(port, HOST);
    let buf = '';
    sock.setEncoding('latin1');
    return new Promise((resolve, reject) => {
        const mon = { seen, disconnect: () => sock.destroy() };
        sock.once('error', reject);
        sock.on('data', (d) => {
            buf += d;
            let i;
            while ((i = buf.indexOf('\r\n')) !== -1) {
                const line = buf.slice(0, i);
                buf = buf.slice(i + 2);
                if (line === '+OK') {
                    resolve(mon);
                } else if (line.startsWith('-')) {
                    sock.destroy();
                    reject(new Error(`MONITOR refused: ${line}`));
                } else if (line.startsWith('+')) {
                    const entry = { args: monitorArgs(line), lua: /^\+[0-9.]+ \[\d+ lua\]/.test(line) };
                    seen.push(entry);
                    onCommand?.(entry);
                }
            }
        });
        sock.write('MONITOR\r\n');
    });
}

/**
 * Start a private redis-server on a free 127.0.0.1 port. Throws if it can't be started within 10 s.
 * opts: {args: [...extra redis args], bin (default $REDIS_SERVER_BIN or 'redis-server'), port, startTimeoutMs}
 * Returns {port, pid, url, dir, client(opts), monitor(opts), stop(), kill(signal), restart(), output()}.
 */
export async function startRedis(opts = {}) {
    let bin = opts.bin ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
    if (bin.includes('/')) bin = path.resolve(bin); // redis runs with its temp dir as cwd
    const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    const dir = makeTempDir('kvedge-redis-');
    const clients = new Set();
    let port = opts.port;
    let proc = null;

    const launch = async () => {
        const args = ['--bind', HOST, '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir,
            '--daemonize', 'no', ...(opts.args ?? [])];
        proc = spawnTracked('redis', bin, args, { env: process.env, cwd: dir, logDir: dir });
        const deadline = Date.now() + startTimeoutMs;
        for (;;) {
            if (proc.state.exited) {
                const why = proc.state.spawnError
                    ? `could not run '${bin}': ${proc.state.spawnError.message}`
                    : `'${bin}' exited (code ${proc.state.code}, signal ${proc.state.signal}) before answering PING`;
                const err = new Error(`startRedis: ${why}\n--- redis output ---\n${proc.stdout()}${proc.stderr()}`);
                err.addressInUse = /address already in use/i.test(proc.stdout() + proc.stderr());
                throw err;
            }
            if (await pingRedis(port)) return;
            if (Date.now() >= deadline) {
                sendSignal(proc.child, 'SIGKILL');
                await proc.state.done;
                throw new Error(`startRedis: no PONG from 127.0.0.1:${port} within ${startTimeoutMs} ms\n` +
                    `--- redis output ---\n${proc.stdout()}${proc.stderr()}`);
            }
            await sleep(25);
        }
    };

    // A port from freePort() can be taken by someone else before redis binds it: retry a few times.
    for (let attempt = 0; ; attempt++) {
        if (opts.port === undefined) port = await freePort();
        try {
            await launch();
            break;
        } catch (e) {
            if (!e.addressInUse || opts.port !== undefined || attempt >= 4) throw e;
        }
    }

    const closeClients = () => {
        for (const c of clients) c.disconnect();
        clients.clear();
    };

    const stop = async ({ timeoutMs = 10_000 } = {}) => {
        closeClients();
        if (!proc.state.exited) {
            sendSignal(proc.child, 'SIGTERM');
            if (!(await withTimeout(proc.state.done, timeoutMs))) {
                sendSignal(proc.child, 'SIGKILL');
                await proc.state.done;
            }
        }
        return { code: proc.state.code, signal: proc.state.signal, output: proc.stdout() + proc.stderr() };
    };

    const handle = {
        port,
        url: `redis://${HOST}:${port}`,
        dir,
        get pid() {
            return proc.child.pid;
        },
        get running() {
            return !proc.state.exited;
        },
        output: () => proc.stdout() + proc.stderr(),
        /** An ioredis client for this server, disconnected by stop(). */
        client(clientOpts = {}) {
            let Redis;
            try {
                Redis = require('ioredis');
            } catch (e) {
                throw new Error(`harness: cannot load ioredis (${e.message}); run 'make deps' or 'npm ci' in the repo root`);
            }
            const c = new Redis({ host: HOST, port, maxRetriesPerRequest: 2, ...clientOpts });
            c.on('error', () => {}); // reconnects are expected in restart tests; commands still reject
            clients.add(c);
            return c;
        },
        /** monitorRedis() on this server, disconnected by stop(). */
        async monitor(monOpts = {}) {
            const m = await monitorRedis(port, monOpts);
            clients.add(m);
            return m;
        },
        stop,
        /** Send a signal (default SIGKILL); SIGSTOP/SIGCONT work too. Resolves once it exited for fatal signals. */
        async kill(signal = 'SIGKILL') {
            sendSignal(proc.child, signal);
            if (['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT'].includes(signal)) await proc.state.done;
        },
        /** Stop (if running) and start again on the same port and dir. */
        async restart() {
            if (!proc.state.exited) {
                sendSignal(proc.child, 'SIGCONT');
                sendSignal(proc.child, 'SIGTERM');
                if (!(await withTimeout(proc.state.done, 10_000))) {
                    sendSignal(proc.child, 'SIGKILL');
                    await proc.state.done;
                }
            }
            await launch();
        },
    };
    return handle;
}

// ---------------------------------------------------------------------------------------------
// recording upstream

/**
 * A recording HTTP/1.1 origin on 127.0.0.1:<free port>. Every request is appended to .requests as
 * {method, url, httpVersion, headers, rawHeaders, body (utf8 string), bodyBuffer, time}.
 * handler(req, res, body) answers it (may be async); the default answers 200 with a JSON echo.
 * Returns {port, url, requests, connections(), clear(), stop()}.
 */
export async function startUpstream(handler) {
    const requests = [];
    let connections = 0;
    const server = http_.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', async () => {
            const bodyBuffer = Buffer.concat(chunks);
            const body = bodyBuffer.toString('utf8');
            requests.push({
                method: req.method,
                url: req.url,
                httpVersion: req.httpVersion,
                headers: req.headers,
                rawHeaders: req.rawHeaders,
                body,
                bodyBuffer,
                time: Date.now(),
            });
            try {
                if (handler) {
                    await handler(req, res, body);
                } else {
                    const payload = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body });
                    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
                    res.end(payload);
                }
            } catch (e) {
                if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
                if (!res.writableEnded) res.end(`upstream handler error: ${e.message}\n`);
            }
        });
    });
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    server.requestTimeout = 0;
    server.on('connection', (sock) => {
        connections++;
        sock.setNoDelay(true);
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: HOST, port: 0, backlog: 4096 }, resolve);
    });
    const { port } = server.address();
    openServers.add(server);
    server.once('close', () => openServers.delete(server));
    return {
        port,
        url: `http://${HOST}:${port}`,
        server,
        requests,
        connections: () => connections,
        clear() {
            requests.length = 0;
        },
        stop() {
            return new Promise((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            });
        },
    };
}

// ---------------------------------------------------------------------------------------------
// YAML

const YAML_RESERVED = /^(~|null|true|false|yes|no|y|n|on|off)$/i;
const YAML_NUMBERISH = /^([-+]?(\d[\d_]*)?\.?\d[\d_]*([eE][-+]?\d+)?|[-+]?\.(inf|nan)|0x[0-9a-f]+|0o[0-7]+|[-+]?\d+(:\d+)+)$/i;
const YAML_PLAIN_SAFE = /^[A-Za-z0-9_./$][A-Za-z0-9_./:@$%{}+=~-]*$/;

function yamlString(s) {
    if (s !== '' && YAML_PLAIN_SAFE.test(s) && !s.endsWith(':') && !YAML_RESERVED.test(s) && !YAML_NUMBERISH.test(s)) {
        return s;
    }
    // A JSON string is a valid YAML double-quoted scalar.
    return JSON.stringify(s);
}

function yamlScalar(v) {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number' || typeof v === 'bigint') {
        if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`toYaml: cannot emit ${v}`);
        return String(v);
    }
    if (typeof v === 'string') return yamlString(v);
    throw new Error(`toYaml: unsupported value type ${typeof v}`);
}

const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isNonEmptyCollection = (v) => (Array.isArray(v) && v.length > 0) || (isMap(v) && Object.keys(v).length > 0);
const emptyCollection = (v) => (Array.isArray(v) ? '[]' : isMap(v) ? '{}' : null);

function yamlKey(k) {
    return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) && !YAML_RESERVED.test(k) ? k : JSON.stringify(k);
}

function emitCollection(v, indent, out) {
    const pad = ' '.repeat(indent);
    if (Array.isArray(v)) {
        for (const item of v) {
            if (isNonEmptyCollection(item)) {
                const sub = [];
                emitCollection(item, indent + 2, sub);
                sub[0] = `${pad}- ${sub[0].slice(indent + 2)}`;
                out.push(...sub);
            } else {
                out.push(`${pad}- ${emptyCollection(item) ?? yamlScalar(item)}`);
            }
        }
        return;
    }
    for (const [k, val] of Object.entries(v)) {
        if (val === undefined) continue;
        if (isNonEmptyCollection(val)) {
            out.push(`${pad}${yamlKey(k)}:`);
            emitCollection(val, indent + 2, out);
        } else {
            out.push(`${pad}${yamlKey(k)}: ${emptyCollection(val) ?? yamlScalar(val)}`);
        }
    }
}

/** YAML text for plain objects/arrays/strings/numbers/booleans/null. Strings stay strings ("true" is quoted). */
export function toYaml(value) {
    if (!isMap(value) && !Array.isArray(value)) return `${yamlScalar(value)}\n`;
    if (!isNonEmptyCollection(value)) return `${emptyCollection(value)}\n`;
    const out = [];
    emitCollection(value, 0, out);
    return `${out.join('\n')}\n`;
}

/**
 * Write a config (JS object, or a raw YAML string used verbatim) to `<dir>/<name>`; dir defaults to a
 * fresh temp dir. Returns the file path.
 */
export function writeConfig(config, { dir, name = 'kvedge.yaml' } = {}) {
    const d = dir ?? makeTempDir('kvedge-conf-');
    const file = path.join(d, name);
    fs.writeFileSync(file, typeof config === 'string' ? config : toYaml(config));
    return file;
}

// ---------------------------------------------------------------------------------------------
// HTTP clients

function parseUrl(url) {
    // No URL normalization: the path is sent byte for byte as given ("/a/../b", "//x", "%2e").
    const m = /^(https?):\/\/(\[[^\]]+\]|[^/:?#]+)(?::(\d+))?(.*)$/.exec(url);
    if (!m) throw new Error(`http: cannot parse URL ${url}`);
    let p = m[4] || '/';
    if (!p.startsWith('/') && !p.startsWith('*')) p = `/${p}`;
    const host = m[2].replace(/^\[|\]$/g, '');
    return { protocol: m[1], host, port: Number(m[3] ?? (m[1] === 'https' ? 443 : 80)), path: p };
}

/**
 * One HTTP request. opts: {headers, body (string|Buffer|plain object -> JSON), agent (default: a fresh
 * connection with "Connection: close"; pass an http.Agent({keepAlive:true}) to reuse), timeoutMs,
 * rejectUnauthorized (https; default false)}.
 * Resolves {status, statusMessage, httpVersion, headers, rawHeaders, body (utf8 text), bodyBuffer}.
 */
export function http(method, url, opts = {}) {
    const { protocol, host, port, path: reqPath } = parseUrl(url);
    const mod = protocol === 'https' ? https_ : http_;
    const headers = { ...(opts.headers ?? {}) };
    let body = opts.body;
    if (isMap(body) && !Buffer.isBuffer(body) && !(body instanceof Uint8Array)) {
        body = JSON.stringify(body);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
        const req = mod.request({
            method,
            host,
            port,
            path: reqPath,
            headers,
            agent: opts.agent ?? false,
            rejectUnauthorized: opts.rejectUnauthorized ?? false,
            servername: opts.servername,
        });
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`http: ${method} ${url} timed out after ${timeoutMs} ms`)));
        req.on('error', reject);
        req.on('response', (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
                const bodyBuffer = Buffer.concat(chunks);
                resolve({
                    status: res.statusCode,
                    statusMessage: res.statusMessage,
                    httpVersion: res.httpVersion,
                    headers: res.headers,
                    rawHeaders: res.rawHeaders,
                    body: bodyBuffer.toString('utf8'),
                    bodyBuffer,
                });
            });
        });
        if (body !== undefined && body !== null) req.end(body);
        else req.end();
    });
}

// Whether `buf` (latin1 text) holds one complete HTTP response.
function responseComplete(text) {
    const headerEnd = text.indexOf('\r\n\r\n');
    if (headerEnd < 0) return false;
    const head = text.slice(0, headerEnd);
    const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head)?.[1]);
    if ((status >= 100 && status < 200) || status === 204 || status === 304) return true;
    const bodyLen = text.length - headerEnd - 4;
    const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
    if (cl) return bodyLen >= Number(cl[1]);
    if (/\r\ntransfer-encoding:[^\r\n]*chunked/i.test(head)) {
        const body = text.slice(headerEnd + 4);
        return body === '0\r\n\r\n' || body.endsWith('\r\n0\r\n\r\n'); // (trailers not supported)
    }
    return false; // body delimited by close
}

/**
 * Write raw bytes (Buffer, or a string sent as latin1: one byte per char) to 127.0.0.1:port and return
 * the raw response text (latin1-decoded, so bytes map 1:1 to chars). Resolves when
 * one complete response has arrived (Content-Length/chunked/no-body status), the server closes, or
 * (if something was received) after timeoutMs. opts: {timeoutMs=10000, untilClose=false, host}.
 */
export function rawRequest(port, bytes, opts = {}) {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
        const sock = net.connect({ host: opts.host ?? HOST, port, noDelay: true });
        const chunks = [];
        let settled = false;
        const text = () => Buffer.concat(chunks).toString('latin1');
        const finish = (err) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            sock.destroy();
            if (err && chunks.length === 0) reject(err);
            else resolve(text());
        };
        const timer = setTimeout(
            () => finish(new Error(`rawRequest: no response from 127.0.0.1:${port} within ${timeoutMs} ms`)),
            timeoutMs,
        );
        // The server may answer (e.g. 431) and close while we are still writing: EPIPE/ECONNRESET after a
        // response is not an error.
        sock.on('error', (e) => finish(e));
        sock.on('data', (c) => {
            chunks.push(c);
            if (!opts.untilClose && responseComplete(text())) finish();
        });
        sock.on('end', () => finish());
        sock.on('close', () => finish(new Error(`rawRequest: connection closed without a response`)));
        sock.on('connect', () => sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes));
    });
}

// ---------------------------------------------------------------------------------------------
// kvedge

function kvedgeBin(opts) {
    let bin = opts.bin ?? process.env.KVEDGE_BIN;
    if (!bin) {
        throw new Error('harness: KVEDGE_BIN is not set (ctest sets it; by hand: KVEDGE_BIN=build/kvedge node --test FILE)');
    }
    try {
        fs.accessSync(bin, fs.constants.X_OK);
    } catch {
        throw new Error(`harness: KVEDGE_BIN=${bin} does not exist or is not executable (build it first: make build)`);
    }
    // kvedge runs with its temp dir as cwd: a relative path must not be looked up there.
    if (bin.includes('/')) bin = path.resolve(bin);
    return bin;
}

function kvedgeEnv(extra) {
    const env = { ...process.env };
    if (SANITIZE) {
        env.ASAN_OPTIONS ??= 'detect_leaks=1:abort_on_error=1:halt_on_error=1:fast_unwind_on_malloc=0';
        env.UBSAN_OPTIONS ??= 'print_stacktrace=1:halt_on_error=1';
        const supp = path.join(SOURCE_DIR, 'tests', 'lsan.supp');
        if (env.LSAN_OPTIONS === undefined && fs.existsSync(supp)) env.LSAN_OPTIONS = `suppressions=${supp}:print_suppressions=0`;
    }
    return { ...env, ...(extra ?? {}) };
}

function expandEnv(value, env) {
    if (typeof value !== 'string') return value;
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (m, name, dflt) =>
        m === '$$' ? '$' : (env[name] ?? dflt ?? ''),
    );
}

/**
 * Run kvedge to completion (e.g. ['-t', '-c', file], ['--version']). Resolves {code, signal, stdout, stderr}.
 */
export async function runKvedge(args, opts = {}) {
    const bin = kvedgeBin(opts);
    const dir = makeTempDir('kvedge-run-');
    const proc = spawnTracked('kvedge', bin, args, { env: kvedgeEnv(opts.env), cwd: opts.cwd ?? dir, logDir: dir });
    const timeoutMs = opts.timeoutMs ?? (SANITIZE ? 60_000 : 15_000);
    if (!(await withTimeout(proc.state.done, timeoutMs))) {
        sendSignal(proc.child, 'SIGKILL');
        await proc.state.done;
        throw new Error(`runKvedge ${args.join(' ')}: timed out after ${timeoutMs} ms\n--- stderr ---\n${proc.stderr()}`);
    }
    if (proc.state.spawnError) throw proc.state.spawnError;
    return { code: proc.state.code, signal: proc.state.signal, stdout: proc.stdout(), stderr: proc.stderr() };
}

/**
 * Start kvedge with `config` (JS object or raw YAML string) and wait for GET <admin.path>healthz == 200
 * on the first listener (15 s, 60 s in sanitizer builds).
 *
 * For an object config: data_dir defaults to a fresh temp dir; a missing `listen`, or a first listener
 * without a port (or port 0), gets 127.0.0.1:<free port> (retried if the port was taken meanwhile).
 * For a raw YAML string pass opts.port (else the first `port:` in the text is used) and opts.adminPath.
 * config null: no -c at all (a start without a config file, configured by opts.env); pass opts.port.
 *
 * opts: {env, args (before -c), waitReady=false, timeoutMs, bin, port, adminPath, adminToken}
 * Returns {pid, port, url, adminUrl, dir, configPath, config, stdout(), stderr(), running,
 *          stop({signal='SIGTERM', timeoutMs}) -> {code, signal, stderr, stdout, timedOut}, kill(sig), exited}.
 */
export async function startKvedge(config, opts = {}) {
    const bin = kvedgeBin(opts);
    const env = kvedgeEnv(opts.env);
    const startTimeoutMs = opts.timeoutMs ?? (SANITIZE ? 60_000 : 15_000);

    for (let attempt = 0; ; attempt++) {
        const dir = makeTempDir('kvedge-');
        let cfg = config;
        let port;
        let autoPort = false;
        let adminPath = opts.adminPath;
        let adminToken = opts.adminToken;
        let tls = false;
        if (config === null) {
            port = opts.port;
            if (!port) throw new Error('startKvedge: no config: pass opts.port');
            adminPath ??= '/';
        } else if (typeof config === 'string') {
            port = opts.port ?? Number(/^\s*-?\s*port:\s*(\d+)/m.exec(config)?.[1]);
            if (!port) throw new Error('startKvedge: raw YAML config: pass opts.port (no "port:" found)');
            adminPath ??= '/';
        } else {
            cfg = structuredClone(config);
            if (cfg.data_dir === undefined) cfg.data_dir = path.join(dir, 'data');
            if (!Array.isArray(cfg.listen) || cfg.listen.length === 0) cfg.listen = [{ host: HOST }];
            const first = cfg.listen[0];
            if (first.port === undefined || first.port === 0) {
                first.port = await freePort();
                autoPort = true;
            }
            port = Number(first.port);
            tls = !!first.tls;
            adminPath ??= cfg.admin?.path ?? '/';
            if (adminToken === undefined && cfg.admin) {
                if (cfg.admin.token !== undefined) adminToken = expandEnv(cfg.admin.token, env);
                else if (cfg.admin.token_file) adminToken = fs.readFileSync(cfg.admin.token_file, 'utf8').replace(/\r?\n$/, '');
            }
        }
        const configPath = config === null ? null : writeConfig(cfg, { dir });
        const scheme = tls ? 'https' : 'http';
        const url = `${scheme}://${HOST}:${port}`;
        const adminUrl = url + (adminPath.endsWith('/') ? adminPath : `${adminPath}/`);
        const adminHeaders = adminToken ? { authorization: `Bearer ${adminToken}` } : {};

        const proc = spawnTracked('kvedge', bin, [...(opts.args ?? []), ...(configPath === null ? [] : ['-c', configPath])], { env, cwd: dir, logDir: dir });
        const failStart = async (what) => {
            if (!proc.state.exited) {
                sendSignal(proc.child, 'SIGKILL');
                await proc.state.done;
            }
            return new Error(`startKvedge: ${what}\nconfig: ${configPath}\n--- stderr ---\n${proc.stderr()}` +
                `--- stdout ---\n${proc.stdout()}`);
        };

        const waitStatus = async (p, what) => {
            const deadline = Date.now() + startTimeoutMs;
            for (;;) {
                if (proc.state.exited) {
                    if (proc.state.spawnError) throw await failStart(`could not run ${bin}: ${proc.state.spawnError.message}`);
                    throw await failStart(`kvedge exited (code ${proc.state.code}, signal ${proc.state.signal}) ` +
                        `before ${what} answered 200`);
                }
                try {
                    const r = await http('GET', adminUrl + p, { headers: adminHeaders, timeoutMs: 2000 });
                    if (r.status === 200) return;
                } catch {}
                if (Date.now() >= deadline) {
                    throw await failStart(`${what} did not answer 200 within ${startTimeoutMs} ms`);
                }
                await sleep(50);
            }
        };

        try {
            await waitStatus('healthz', `GET ${adminUrl}healthz`);
            if (opts.waitReady) await waitStatus('readyz', `GET ${adminUrl}readyz`);
        } catch (e) {
            if (autoPort && attempt < 3 && /address already in use|EADDRINUSE/i.test(proc.stderr())) continue;
            throw e;
        }

        let stopping = null;
        const result = (timedOut) => ({
            code: proc.state.code,
            signal: proc.state.signal,
            stderr: proc.stderr(),
            stdout: proc.stdout(),
            timedOut,
        });
        return {
            pid: proc.child.pid,
            port,
            url,
            adminUrl,
            dir,
            configPath,
            config: cfg,
            stdout: proc.stdout,
            stderr: proc.stderr,
            get running() {
                return !proc.state.exited;
            },
            /** Resolves with the exit state once the process has exited (for crash tests). */
            exited: proc.state.done.then(() => result(false)),
            kill(signal = 'SIGKILL') {
                return sendSignal(proc.child, signal);
            },
            /** Signal (default SIGTERM) and wait; after timeoutMs SIGKILL and report timedOut: true. Idempotent. */
            stop({ signal = 'SIGTERM', timeoutMs = SANITIZE ? 90_000 : 30_000 } = {}) {
                stopping ??= (async () => {
                    if (proc.state.exited) return result(false);
                    sendSignal(proc.child, signal);
                    if (await withTimeout(proc.state.done, timeoutMs)) return result(false);
                    sendSignal(proc.child, 'SIGKILL');
                    try {
                        process.kill(-proc.child.pid, 'SIGKILL');
                    } catch {}
                    await proc.state.done;
                    return result(true);
                })();
                return stopping;
            },
        };
    }
}

/**
 * Stops a kvedge started for one test (asserting a clean exit), then that test's own server (a Redis, a fake
 * Redis or an upstream: anything with stop()), even when the first stop fails. A Redis is resumed first: a
 * test may have left it paused with SIGSTOP.
 */
export async function stopKvedgeThen(kvedge, server) {
    if (typeof server.kill === 'function') await server.kill('SIGCONT').catch(() => {});
    try {
        assertCleanExit(await kvedge.stop());
    } finally {
        await server.stop();
    }
}

/** Assert a stop() result is a clean exit: status 0, not timed out, no sanitizer report on stderr. */
export function assertCleanExit(result, what = 'kvedge') {
    const problems = [];
    if (result.timedOut) problems.push('did not exit in time (SIGKILLed)');
    if (result.code !== 0) problems.push(`exit code ${result.code}, signal ${result.signal}`);
    const found = SANITIZER_MARKERS.filter((m) => (result.stderr ?? '').includes(m));
    if (found.length) problems.push(`sanitizer report (${found.join(', ')})`);
    if (problems.length) {
        assert.fail(`${what} did not exit cleanly: ${problems.join('; ')}\n--- stderr ---\n${result.stderr ?? ''}`);
    }
}
