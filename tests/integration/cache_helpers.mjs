// Shared by the cache_*.test.mjs suites (issue 8): a recording origin whose answers each test picks by path, and a
// kvedge with one cached route on a real redis-server.
import assert from 'node:assert/strict';
import { http, startKvedge, startUpstream, waitFor } from './harness.mjs';

/**
 * The origin. Paths (after the route prefix is replaced by "/"):
 *   /fresh/*    200, max-age=60, ETag "f1", a body with a per-path counter
 *   /short/*    200, max-age=2, no validator
 *   /etag/*     200, max-age=2, ETag "e1", Content-MD5; a request with If-None-Match "e1" gets 304 with max-age=60, another
 *               Content-MD5 and X-From-304
 *   /nostore    200, no-store
 *   /cookie     200, max-age=60, Set-Cookie: session=secret
 *   /vary       200, max-age=60, Vary: Accept-Language, body = the language
 *   /varystar   200, max-age=60, Vary: *
 *   /reflect    200, max-age=60, the body reflects X-Forwarded-Host, X-Original-URL and the URL seen
 *   /big        200, max-age=60, 64 KiB body
 *   /plain      200 without freshness information
 * POST anywhere: 201 (empty body). Everything else: 404 with max-age=0.
 */
export async function startOrigin() {
    const counters = new Map();
    return startUpstream((req, res) => {
        const n = (counters.get(req.url) ?? 0) + 1;
        counters.set(req.url, n);
        const send = (status, headers, body = '') => {
            res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
            res.end(body);
        };
        const json = (o) => JSON.stringify(o);
        if (req.method === 'POST') return send(201, { 'content-type': 'text/plain' }, '');
        const url = req.url;
        if (url.startsWith('/fresh/')) return send(200, { 'cache-control': 'max-age=60', etag: '"f1"' }, json({ url, n }));
        if (url.startsWith('/short/')) return send(200, { 'cache-control': 'max-age=2' }, json({ url, n }));
        if (url.startsWith('/etag/')) {
            if (req.headers['if-none-match'] === '"e1"')
                return send(304, { 'cache-control': 'max-age=60', etag: '"e1"', 'content-md5': 'from-304', 'x-from-304': 'yes' });
            return send(200, { 'cache-control': 'max-age=2', etag: '"e1"', 'x-version': String(n), 'content-md5': 'stored' },
                json({ url, n }));
        }
        if (url === '/nostore') return send(200, { 'cache-control': 'no-store' }, json({ url, n }));
        if (url === '/cookie') return send(200, { 'cache-control': 'max-age=60', 'set-cookie': 'session=secret' }, json({ url, n }));
        if (url === '/vary')
            return send(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' }, json({ lang: req.headers['accept-language'] ?? null, n }));
        if (url === '/varystar') return send(200, { 'cache-control': 'max-age=60', vary: '*' }, json({ n }));
        if (url.startsWith('/reflect'))
            return send(200, { 'cache-control': 'max-age=60' }, json({ xfh: req.headers['x-forwarded-host'] ?? null,
                xou: req.headers['x-original-url'] ?? null, url, n }));
        if (url === '/big') return send(200, { 'cache-control': 'max-age=60' }, 'x'.repeat(64 * 1024));
        if (url === '/plain') return send(200, { 'content-type': 'text/plain' }, `plain ${n}`);
        return send(404, { 'cache-control': 'max-age=0' }, 'not found');
    });
}

/** Requests the origin saw for `url` (method GET unless given). */
export function seen(origin, url, method = 'GET') {
    return origin.requests.filter((r) => r.url === url && r.method === method).length;
}

/** kvedge (one thread) with the route /api cached on `redis`; `cache` is the route's cache:, `extra` top-level keys. */
export function startCached(redis, origin, cache = {}, extra = {}) {
    return startKvedge({
        threads: 1,
        redis: redis.url,
        routes: [
            { path: '/api', upstream: `${origin.url}/`, cache },
            { path: '/raw', upstream: `${origin.url}/` },
        ],
        ...extra,
    });
}

/** GET (or `method`) through kvedge. */
export function get(k, path, headers = {}, method = 'GET') {
    return http(method, `${k.url}${path}`, { headers });
}

export function assertStatus(r, re) {
    assert.match(r.headers['cache-status'] ?? '(none)', re);
}

/** Object keys only: the coalescing lock "<P>:l" (which remembers an uncacheable answer as "pass" for 10 s) and the
 * refresh lock "<P>:r" are left out. */
export async function objectKeys(client) {
    return (await client.keys('kvc1:*')).filter((k) => !/:[lr]$/.test(k));
}

/** every cache key with its PTTL */
export async function cacheKeys(client) {
    const keys = await objectKeys(client);
    const out = {};
    for (const key of keys) out[key] = await client.pttl(key);
    return out;
}

/**
 * Waits until `client`'s store holds `n` cache keys: a response reaches the client while its store batch may still
 * be on its way (kvedge's own next lookup is ordered after it on the same link; another connection is not).
 */
export async function storedKeys(client, n) {
    return waitFor(async () => {
        const keys = await objectKeys(client);
        return keys.length === n ? keys : null;
    }, { timeoutMs: 5000, message: `${n} cache keys in the store` });
}
