// Issue 8: RFC 5861 on a cached route. stale-if-error: when the upstream fails (connect error, 5xx) a stale object
// within its window (the response's stale-if-error, or the operator's stale_if_error grace) answers instead of the
// error; past the window the error goes through; must-revalidate never serves stale. stale-while-revalidate: a stale
// object within its window is served at once and exactly one background refresh runs (across threads and
// instances), with the stored validators. A recording origin whose answers each test switches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http_ from 'node:http';
import { assertCleanExit, startKvedge, startRedis, startUpstream, sleep, http, waitFor } from './harness.mjs';

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

function start(redis, origin, cache = {}, threads = 1, route = {}) {
    return startKvedge({ threads, redis: redis.url, routes: [{ path: '/api', upstream: `${origin.url}/`, cache, ...route }] });
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
        assertCleanExit(await k.stop());
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
        assertCleanExit(await k.stop());
        await redis.stop();
    }
});

test('issue 8: stale-if-error: the upstream timing out -> the stale object is served', async () => {
    const redis = await startRedis();
    const mode = { status: 200, cc: 'max-age=1, stale-if-error=60' };
    const origin = await startOrigin(mode);
    const k = await start(redis, origin, {}, 1, { timeout: '300ms' });
    try {
        assert.match((await get(k, '/api/e')).headers['cache-status'], /stored/);
        await sleep(2100);
        mode.delay = 1500;
        const t0 = Date.now();
        const r = await get(k, '/api/e');
        assert.equal(r.status, 200);
        assert.equal(r.body, 'v1 /e');
        assert.match(r.headers['cache-status'], /^kvedge; fwd=stale; fwd-status=50[24]; ttl=-\d+; detail=stale-if-error$/);
        assert.ok(Date.now() - t0 < 1400, 'answered at the upstream timeout');
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
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
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

/** `n` concurrent GETs of `path`, spread over `targets`, on keep-alive connections (`sockets` per target). */
async function burst(targets, path, n, sockets = 50) {
    const agents = targets.map(() => new http_.Agent({ keepAlive: true, maxSockets: sockets }));
    try {
        const all = [];
        for (let i = 0; i < n; i++) {
            const t = i % targets.length;
            all.push(http('GET', `${targets[t].url}${path}`, { agent: agents[t], headers: { host: 'cdn.test' } }));
        }
        return await Promise.all(all);
    } finally {
        agents.forEach((a) => a.destroy());
    }
}

test('issue 8: stale-while-revalidate: 200 requests in the window (two instances, threads: 2) are served stale at once and make exactly one background refresh; the next request gets the new object', async () => {
    const redis = await startRedis();
    const mode = { status: 200, cc: 'max-age=1, stale-while-revalidate=30', etag: '"e1"', body: 'v1', delay: 300 };
    const origin = await startOrigin(mode);
    const k1 = await start(redis, origin, {}, 2);
    const k2 = await start(redis, origin, {}, 2);
    try {
        assert.match((await get(k1, '/api/s')).headers['cache-status'], /stored/);
        await sleep(2100);
        mode.etag = '"e2"';
        mode.body = 'v2';
        mode.cc = 'max-age=60';
        const t0 = Date.now();
        const rs = await burst([k1, k2], '/api/s', 200);
        const elapsed = Date.now() - t0;
        for (const r of rs) {
            assert.equal(r.status, 200);
            assert.equal(r.body, 'v1 /s');
            assert.match(r.headers['cache-status'], /^kvedge; hit; ttl=(0|-\d+); detail=stale-while-revalidate$/);
        }
        assert.ok(elapsed < 2000, `served in ${elapsed} ms without waiting for the 300 ms origin`);
        await waitFor(() => seen(origin, '/s') === 2, { message: 'the refresh reached the origin' });
        const refresh = origin.requests.filter((r) => r.url === '/s')[1];
        assert.equal(refresh.headers['if-none-match'], '"e1"');
        await sleep(500);
        assert.equal(seen(origin, '/s'), 2, 'exactly one refresh');
        for (const k of [k1, k2]) {
            const r = await waitFor(async () => {
                const x = await get(k, '/api/s');
                return x.body === 'v2 /s' ? x : null;
            }, { message: 'the refreshed object' });
            assert.match(r.headers['cache-status'], /^kvedge; hit; ttl=\d+$/);
        }
        assert.equal(seen(origin, '/s'), 2);
    } finally {
        assertCleanExit(await k1.stop());
        assertCleanExit(await k2.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: stale-while-revalidate (operator grace): the refresh sends the stored validators, a 304 updates the stored head', async () => {
    const redis = await startRedis();
    const mode = { status: 200, cc: 'max-age=1', etag: '"e1"', body: 'v1' };
    const origin = await startOrigin(mode);
    const k = await start(redis, origin, { stale_while_revalidate: '30s' });
    try {
        assert.match((await get(k, '/api/t')).headers['cache-status'], /stored/);
        await sleep(2100);
        mode.cc = 'max-age=60';
        const r = await get(k, '/api/t');
        assert.equal(r.body, 'v1 /t');
        assert.match(r.headers['cache-status'], /^kvedge; hit; ttl=(0|-\d+); detail=stale-while-revalidate$/);
        await waitFor(async () => /^kvedge; hit; ttl=\d+$/.test((await get(k, '/api/t')).headers['cache-status']),
            { message: 'fresh after the 304' });
        assert.equal(seen(origin, '/t'), 2);
        assert.equal(origin.requests.filter((x) => x.url === '/t')[1].headers['if-none-match'], '"e1"');
        const after = await get(k, '/api/t');
        assert.equal(after.body, 'v1 /t');
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});
