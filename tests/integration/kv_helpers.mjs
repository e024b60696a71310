// Helpers shared by the KV REST API integration tests (kv_*.test.mjs).
//
//   RW_TOKEN, RO_TOKEN      the two tokens kvConfig() configures (read-write, read-only)
//   kvConfig(redisUrl, kv)  a kvedge config object with the KV API at /kv and both tokens
//   startKvStack(opts)      a private Redis + kvedge serving the KV API; stop() cleans up both
//   clearKeys(io)           delete every key of the client's database (see below)
//   recordFetch()           wrap globalThis.fetch and record requests/responses (the SDKs call the global fetch)
//   openStream(url, opts)   a streaming (SSE) request read incrementally
//   sha1hex(s), runNode(args, opts)
//
// clearKeys deletes the keys of one database (kvedge writes no key of its own: sync tokens come from ROLE).

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import httpMod from 'node:http';
import { startKvedge, startRedis, waitFor } from './harness.mjs';

export const RW_TOKEN = 'rw-token-0123456789abcdef';
export const RO_TOKEN = 'ro-token-0123456789abcdef';

/**
 * Opens a streaming request (GET by default; `body` is sent when given) and reads it incrementally.
 * Resolves once the response headers are in with {status, headers, text(), dataLines(), waitData(pred|string),
 * ended (resolves with the text), complete() (the response ended properly, not by a reset), close()}.
 * opts: {token (null: none), headers, method, body, timeoutMs (the whole request), waitMs (waitData's default)}.
 */
export function openStream(url, { token = RW_TOKEN, headers = {}, method = 'GET', body, timeoutMs = 30_000, waitMs = 5000 } = {}) {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
        const r = httpMod.request({
            host: u.hostname,
            port: u.port,
            path: u.pathname + u.search,
            method,
            agent: false,
            headers: { accept: 'text/event-stream', 'cache-control': 'no-cache', ...(token ? { authorization: `Bearer ${token}` } : {}),
                ...headers },
        });
        r.on('error', reject);
        r.setTimeout(timeoutMs, () => r.destroy(new Error('stream timed out')));
        r.on('response', (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            const ended = new Promise((ok) => {
                res.on('end', () => ok(text));
                res.on('error', () => ok(text));
                res.on('close', () => ok(text));
            });
            const dataLines = () => text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
            resolve({
                status: res.statusCode,
                headers: res.headers,
                text: () => text,
                dataLines,
                ended,
                complete: () => res.complete,
                waitData(pred, ms = waitMs) {
                    const f = typeof pred === 'string' ? (lines) => lines.includes(pred) : pred;
                    return waitFor(() => f(dataLines()), { timeoutMs: ms, intervalMs: 10, message: `SSE data ${pred}; got ${JSON.stringify(text)}` });
                },
                close() {
                    r.destroy();
                },
            });
        });
        r.end(body);
    });
}

/** kvedge config with the KV API at /kv, one read-write and one read-only token; `kv` adds/overrides kv keys. */
export function kvConfig(redisUrl, kv = {}, extra = {}) {
    return {
        threads: 2,
        redis: redisUrl,
        kv: {
            tokens: [{ token: RW_TOKEN }, { token: RO_TOKEN, access: 'read-only' }],
            ...kv,
        },
        ...extra,
    };
}

/**
 * A private Redis and a kvedge in front of it. opts: {kv (extra kv: keys), db (Redis database number),
 * redis (reuse this startRedis() handle; then stop() leaves it running), extra (top-level config keys)}.
 * Returns {redis, k, url (the KV API base URL), io (ioredis on db 0), stop() -> kvedge's stop() result}.
 */
export async function startKvStack(opts = {}) {
    if (CLUSTER && !opts.redis && opts.db === undefined) return startKvClusterStack(opts);
    const ownRedis = !opts.redis;
    const redis = opts.redis ?? (await startRedis());
    let k;
    try {
        const redisUrl = opts.db !== undefined ? `${redis.url}/${opts.db}` : redis.url;
        k = await startKvedge(kvConfig(redisUrl, opts.kv, opts.extra));
    } catch (e) {
        if (ownRedis) await redis.stop();
        throw e;
    }
    const io = redis.client();
    return stackOf(k, io, { redis }, async () => {
        io.disconnect();
        if (ownRedis) await redis.stop();
    });
}

/** The handle startKvStack() returns: `fields`, k, url, io, and stop() (kvedge's stop() result; `release` after it). */
function stackOf(k, io, fields, release) {
    return {
        ...fields,
        k,
        url: `${k.url}/kv`,
        io,
        async stop() {
            try {
                return await k.stop();
            } finally {
                await release();
            }
        },
    };
}

/**
 * KVEDGE_TEST_TOPOLOGY=cluster (tests/CMakeLists.txt's integration_cluster.* runs): startKvStack() puts kvedge on a Redis
 * Cluster of 3 primaries and 3 replicas (topology.mjs startCluster()) instead of one redis-server, and `io` is an ioredis
 * Cluster client (clearKeys() then clears every primary). A suite's tests that need databases (SELECT, /db in a URL)
 * test the cluster's counterpart instead when CLUSTER is set (database 0 only: SELECT refused).
 */
export const CLUSTER = process.env.KVEDGE_TEST_TOPOLOGY === 'cluster';

async function startKvClusterStack(opts, shared = null) {
    const { startCluster } = await import('./topology.mjs');
    const c = shared?.cluster ?? (await startCluster());
    const stopCluster = () => (shared ? undefined : c.stop());
    let k;
    try {
        k = await startKvedge(kvConfig({ cluster: { nodes: c.addresses.slice(0, 3) } }, opts.kv, opts.extra));
        // usable once the slot map came (503 at once before it)
        await waitFor(async () => (await fetch(`${k.url}/kv/ping`, { headers: { authorization: `Bearer ${RW_TOKEN}` } })).status === 200,
            { timeoutMs: 10_000, message: 'the cluster store is up' });
    } catch (e) {
        await k?.stop();
        await stopCluster();
        throw e;
    }
    // an ioredis Cluster client whose DBSIZE, KEYS, SCRIPT, PUBSUB and pipeline() answer for the whole cluster
    let io = shared?.io;
    try {
        io ??= await (await import('./cluster_helpers.mjs')).clusterIo(c);
    } catch (e) {
        await k.stop();
        await stopCluster();
        throw e;
    }
    return stackOf(k, io, { redis: null, cluster: c }, async () => {
        if (!shared) io.disconnect();
        await stopCluster();
    });
}

/**
 * A second kvedge next to `stack` (a startKvStack() result) on the same store, for tests that need another kvedge
 * configuration but not another Redis: on one Redis in its database `db` (kept apart from the suite's keys); on a
 * cluster (database 0 only) on the same cluster, sharing its keys (the suites clear them before each test).
 * opts: {db, kv, extra} as startKvStack()'s. Its `io` reads that database (standalone, its own client) or is the
 * suite's cluster client; stop() leaves the Redis or the cluster, and the suite's client, as they were.
 */
export async function startKvStackBeside(stack, { db, ...opts } = {}) {
    if (CLUSTER) return startKvClusterStack(opts, stack);
    const s = await startKvStack({ ...opts, redis: stack.redis, db });
    s.io.disconnect();
    s.io = stack.redis.client({ db: db ?? 0 });
    return s;
}

const CLEAR_SCRIPT = `
local n = 0
local cursor = '0'
repeat
  local r = redis.call('SCAN', cursor, 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    if k ~= ARGV[1] then redis.call('UNLINK', k) n = n + 1 end
  end
until cursor == '0'
return n`;

/** Delete every key of the ioredis client's database (except `keep`, if given). */
export async function clearKeys(io, keep = '') {
    if (typeof io.nodes === 'function') { // an ioredis Cluster client: every primary
        let n = 0;
        for (const node of io.nodes('master')) n += await node.eval(CLEAR_SCRIPT, 0, keep);
        return n;
    }
    return io.eval(CLEAR_SCRIPT, 0, keep);
}

/**
 * Record every fetch() made in this process until restore(). Each record:
 * {url, method, reqHeaders (lowercased names), reqBody (string), status, resHeaders (lowercased), resBody (string, filled
 * in asynchronously; event streams are not read), bodyDone (promise)}.
 */
export function recordFetch() {
    const original = globalThis.fetch;
    const records = [];
    globalThis.fetch = async (input, init = {}) => {
        const rec = {
            url: typeof input === 'string' ? input : input.url,
            method: init.method ?? 'GET',
            reqHeaders: Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
            reqBody: typeof init.body === 'string' ? init.body : undefined,
        };
        records.push(rec);
        const res = await original(input, init);
        rec.status = res.status;
        rec.resHeaders = Object.fromEntries([...res.headers].map(([k, v]) => [k.toLowerCase(), v]));
        const streaming = (res.headers.get('content-type') ?? '').includes('text/event-stream');
        rec.bodyDone = streaming
            ? Promise.resolve()
            : res
                  .clone()
                  .text()
                  .then((t) => {
                      rec.resBody = t;
                  });
        return res;
    };
    return {
        records,
        /** records whose URL path (after the KV base) is `p` ('/pipeline', '/multi-exec', '/', ...) */
        at(base, p) {
            return records.filter((r) => r.url.startsWith(base) && (r.url.slice(base.length) || '/') === p);
        },
        async settled() {
            await Promise.all(records.map((r) => r.bodyDone));
        },
        clear() {
            records.length = 0;
        },
        restore() {
            globalThis.fetch = original;
        },
    };
}

export function sha1hex(s) {
    return crypto.createHash('sha1').update(s).digest('hex');
}

/**
 * Run `node <args>` (cwd defaults to the repo root so node_modules resolve) and resolve
 * {code, signal, stdout, stderr}. The child is killed (by its own pid) after timeoutMs.
 */
export function runNode(args, { env = {}, cwd, timeoutMs = 30_000 } = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, args, {
            cwd: cwd ?? new URL('../..', import.meta.url).pathname,
            env: { ...process.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        const out = [];
        const err = [];
        child.stdout.on('data', (c) => out.push(c));
        child.stderr.on('data', (c) => err.push(c));
        const timer = setTimeout(() => {
            try {
                process.kill(child.pid, 'SIGKILL');
            } catch {}
        }, timeoutMs);
        child.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
        });
    });
}
