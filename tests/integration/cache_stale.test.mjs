// Issue 8: RFC 5861 on a cached route. stale-if-error: when the upstream fails (connect error, 5xx) a stale object
// within its window (the response's stale-if-error, or the operator's stale_if_error grace) answers instead of the
// error; past the window the error goes through; must-revalidate never serves stale. stale-while-revalidate: a stale
// object within its window is served at once and exactly one background refresh runs (across threads and
// instances), with the stored validators. A recording origin whose answers each test switches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http_ from 'node:http';
import { startKvedge, startRedis, startUpstream, sleep, http, waitFor } from './harness.mjs';

/** An origin: `mode.status` 200 (with `mode.cc`, an ETag, a body counting the requests) or an error status. */
async function startOrigin(mode) {
    let n = 0;
    return startUpstream(async (req, res) => {
        n++;
        if (mode.delay) await sleep(mode.delay);
        if (mode.status !== 200) {
            res.writeHead(mode.status, { 'content-length': 6 });
            return res.end('failed');
        }
        if (mode.etag && req.headers['if-none-match'] === mode.etag) {
            res.writeHead(304, { 'cache-control': mode.cc, etag: mode.etag });
            return res.end();
        }
        const body = `${mode.body ?? 'v1'} ${req.url}`;
        res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': mode.cc, ...(mode.etag ? { etag: mode.etag } : {}) });
        res.end(body);
    });
}

function start(redis, origin, cache = {}, threads = 1) {
    return startKvedge({ threads, redis: redis.url, routes: [{ path: '/api', upstream: `${origin.url}/`, cache }] });
}

const get = (k, path, headers = {}) => http('GET', `${k.url}${path}`, { headers: { host: 'cdn.test', ...headers } });
const seen = (origin, url) => origin.requests.filter((r) => r.url === url).length;

test('issue 8: stale-if-error: upstream 500 -> the stale object is served, Cache-Status says so', async () => {
    const redis = await startRedis();
    const mode = { status: 200, cc: 'max-age=1, stale-if-error=60' };
    const origin = await startOrigin(mode);
    const k = await start(redis, origin);
    try {
        assert.match((await get(k, '/api/a')).headers['cache-status'], /stored/);
        await sleep(2100);
        mode.status = 500;
        const r = await get(k, '/api/a');
        assert.equal(r.status, 200);
        assert.equal(r.body, 'v1 /a');
        assert.ok(Number(r.headers.age) >= 2, `Age ${r.headers.age}`);
        assert.match(r.headers['cache-status'], /^kvedge; fwd=stale; fwd-status=500; ttl=-\d+; detail=stale-if-error$/);
        assert.equal(seen(origin, '/a'), 2);
    } finally {
        await k.stop();
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: stale-if-error: upstream killed (connection refused) -> stale served; past the window -> 502', async () => {
    const redis = await startRedis();
    const mode = { status: 200, cc: 'max-age=1, stale-if-error=2' };
    const origin = await startOrigin(mode);
    const k = await start(redis, origin);
    try {
        assert.match((await get(k, '/api/b')).headers['cache-status'], /stored/);
        await origin.stop();
        await sleep(1500);
        const r = await get(k, '/api/b');
        assert.equal(r.status, 200);
        assert.equal(r.body, 'v1 /b');
        assert.match(r.headers['cache-status'], /^kvedge; fwd=stale; fwd-status=502; ttl=-?\d+; detail=stale-if-error$/);
        await sleep(2600); // age > 1 + 2: past the window
        const late = await get(k, '/api/b');
        assert.equal(late.status, 502);
        assert.notEqual(late.body, 'v1 /b');
        // the object's keys expired with its last window (no validator to keep it for): a miss, the error goes through
        assert.match(late.headers['cache-status'], /^kvedge; fwd=(stale|uri-miss); fwd-status=502/);
        assert.equal(late.body, 'connection failed'); // h2o's body for a connect error
    } finally {
        await k.stop();
        await redis.stop();
    }
});

test('issue 8: stale-if-error: the operator grace (stale_if_error) applies to responses without the directive; must-revalidate never serves stale', async () => {
    const redis = await startRedis();
    const mode = { status: 200, cc: 'max-age=1' };
    const origin = await startOrigin(mode);
    const k = await start(redis, origin, { stale_if_error: '60s' });
    try {
        assert.match((await get(k, '/api/c')).headers['cache-status'], /stored/);
        mode.cc = 'max-age=1, must-revalidate';
        assert.match((await get(k, '/api/d')).headers['cache-status'], /stored/);
        await sleep(2100);
        mode.status = 503;
        const r = await get(k, '/api/c');
        assert.equal(r.status, 200);
        assert.match(r.headers['cache-status'], /fwd-status=503; ttl=-\d+; detail=stale-if-error$/);
        const m = await get(k, '/api/d');
        assert.equal(m.status, 503);
    } finally {
        await k.stop();
        await origin.stop();
        await redis.stop();
    }
});
