// Issue 8, the cache on /metrics and in the access log: per-route counters of hits, misses, stale answers,
// revalidations, bypasses, coalesced requests, stored objects and bytes, store errors and purges, summed over the
// threads; the access log's %{cache_status}e. Every number is checked against what the recording origin saw.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { assertCleanExit, http, makeTempDir, sleep, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { assertStatus, get, seen, startOrigin } from './cache_helpers.mjs';

const ADMIN = 'admin-token-0123456789';
let origin;

before(async () => {
    origin = await startOrigin();
});

after(async () => {
    await origin?.stop();
});

/** the value of one series in the Prometheus text, or undefined */
function metric(text, name, labels) {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${want}} `) || (want === '' && l.startsWith(`${name} `)));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function metrics(k) {
    const r = await http('GET', `${k.adminUrl}metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200);
    return r.body;
}

/** GETs `path` until it is a hit (its store batch may still be on its way); returns how many GETs it took */
async function untilHit(k, p) {
    let n = 0;
    await waitFor(async () => (++n, /hit/.test((await get(k, p)).headers['cache-status'])), { timeoutMs: 5000, message: `${p} stored` });
    return n;
}

test('issue 8: /metrics counts hits, misses, stale, revalidated, bypass, stored objects and bytes, store errors and purges per route', async () => {
    const redis = await startRedis();
    const dir = makeTempDir();
    const log = path.join(dir, 'access.log');
    const k = await startKvedge({
        threads: 2,
        redis: redis.url,
        admin: { token: ADMIN },
        log: { access_log: log, access_log_format: '%r %s %{cache_status}e' },
        routes: [
            { path: '/api', upstream: `${origin.url}/`, cache: {} },
            { path: '/raw', upstream: `${origin.url}/` },
        ],
    });
    let stopped = false;
    try {
        const route = { route: 'proxy:/api' };
        const zero = await metrics(k);
        for (const status of ['hit', 'miss', 'stale', 'revalidated', 'bypass'])
            assert.equal(metric(zero, 'kvedge_cache_requests_total', { ...route, status }), 0, `${status} starts at 0`);
        assert.equal(metric(zero, 'kvedge_cache_coalesced_total', route), 0);
        assert.equal(metric(zero, 'kvedge_cache_requests_total', { route: 'proxy:/raw', status: 'hit' }), undefined, 'no series for a route without cache:');

        // misses and hits: the GETs that went to the origin are the misses, the rest are hits
        const tries = await untilHit(k, '/api/fresh/m1');
        for (let i = 0; i != 3; ++i) assertStatus(await get(k, '/api/fresh/m1'), /hit/);
        const body = (await get(k, '/api/fresh/m1')).body;
        const misses = seen(origin, '/fresh/m1');
        const hits = tries + 4 - misses;
        // revalidated: max-age=2 with an ETag, asked again after it went stale: the origin answers 304; stale: the
        // same kind of object (kept past its freshness for its validator), asked with max-stale
        const hitsR = (await untilHit(k, '/api/etag/r')) - seen(origin, '/etag/r');
        const hitsS = (await untilHit(k, '/api/etag/s')) - seen(origin, '/etag/s');
        await sleep(2200);
        assertStatus(await get(k, '/api/etag/r'), /fwd=stale; fwd-status=304/);
        assertStatus(await get(k, '/api/etag/s', { 'cache-control': 'max-stale=60' }), /hit/);
        // bypass: a host the key cannot be made of
        assertStatus(await get(k, '/api/fresh/b', { host: 'bad host' }), /bypass/);
        await get(k, '/raw/fresh/x');

        const m = await waitFor(async () => {
            const t = await metrics(k);
            return metric(t, 'kvedge_cache_stored_objects_total', route) === seen(origin, '/fresh/m1') + seen(origin, '/etag/r') - 1 + seen(origin, '/etag/s') ? t : null;
        }, { message: 'stored objects counted' });
        assert.equal(metric(m, 'kvedge_cache_requests_total', { ...route, status: 'miss' }),
            misses + seen(origin, '/etag/r') - 1 + seen(origin, '/etag/s'));
        assert.equal(metric(m, 'kvedge_cache_requests_total', { ...route, status: 'hit' }), hits + hitsR + hitsS);
        assert.equal(metric(m, 'kvedge_cache_requests_total', { ...route, status: 'revalidated' }), 1);
        assert.equal(metric(m, 'kvedge_cache_requests_total', { ...route, status: 'stale' }), 1);
        assert.equal(metric(m, 'kvedge_cache_requests_total', { ...route, status: 'bypass' }), 1);
        assert.ok(metric(m, 'kvedge_cache_stored_bytes_total', route) >= Buffer.byteLength(body) * misses);
        assert.equal(metric(m, 'kvedge_cache_store_errors_total', route), 0);
        assert.equal(metric(m, 'kvedge_cache_purged_objects_total', route), 0);

        // purges: by URL and route (per route), by tag (all routes)
        const purge = (q) => http('POST', `${k.adminUrl}purge?${q}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        assert.equal(JSON.parse((await purge(`url=${encodeURIComponent(`${k.url}/api/fresh/m1`)}`)).body).purged, 1);
        assert.equal(JSON.parse((await purge('route=/api')).body).purged, 2);
        assert.equal(JSON.parse((await purge('tag=none')).body).purged, 0);
        const p = await metrics(k);
        assert.equal(metric(p, 'kvedge_cache_purged_objects_total', route), 3);
        assert.equal(metric(p, 'kvedge_cache_tag_purged_objects_total', {}), 0);

        // store errors: the store gone, the lookup fails, the request is answered from the origin
        await redis.stop();
        stopped = true;
        const down = await get(k, '/api/fresh/down');
        assert.equal(down.status, 200);
        assertStatus(down, /bypass/);
        const d = await metrics(k);
        assert.ok(metric(d, 'kvedge_cache_store_errors_total', route) >= 1);
        assert.equal(metric(d, 'kvedge_cache_requests_total', { ...route, status: 'bypass' }), 2);
        // a purge with the store gone: 503 with a clear error, not a hang
        const failed = await purge('route=/api');
        assert.equal(failed.status, 503);
        assert.match(JSON.parse(failed.body).error, /^the store failed: kv store/);

        // the access log shows the outcome; routes without cache: show "-". A line is written when h2o disposes of
        // its request, just after the response went out: wait for the last request's (the failed purge, the 4th)
        const lines = await waitFor(() => {
            const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
            return /fresh\/down/.test(text) && (text.match(/POST \/purge/g) ?? []).length >= 4 ? text.split('\n') : null;
        }, { message: 'the access log written' });
        const outcome = (re) => lines.filter((l) => re.test(l)).map((l) => l.split(' ').at(-1));
        assert.deepEqual([...new Set(outcome(/GET \/api\/fresh\/m1 /))].sort(), ['HIT', 'MISS']);
        assert.deepEqual(outcome(/GET \/api\/etag\/r /).at(-1), 'REVALIDATED');
        assert.deepEqual(outcome(/GET \/api\/etag\/s /).at(-1), 'STALE');
        assert.deepEqual(outcome(/GET \/api\/fresh\/b /), ['BYPASS']);
        assert.deepEqual(outcome(/GET \/raw\/fresh\/x /), ['-']);
        assert.deepEqual(outcome(/POST \/purge/), ['-', '-', '-', '-']);
    } finally {
        assertCleanExit(await k.stop());
        if (!stopped) await redis.stop();
    }
});

test('issue 8: concurrent misses that one upstream fetch answers count as coalesced (and are COALESCED in the access log)', async () => {
    const redis = await startRedis();
    const dir = makeTempDir();
    const log = path.join(dir, 'access.log');
    const slow = await startUpstream(async (req, res) => {
        await sleep(400);
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 4 });
        res.end('slow');
    });
    const k = await startKvedge({
        threads: 2,
        redis: redis.url,
        admin: { token: ADMIN },
        log: { access_log: log, access_log_format: '%r %{cache_status}e' },
        routes: [{ path: '/api', upstream: `${slow.url}/`, cache: { coalesce_timeout: '5s' } }],
    });
    try {
        const all = await Promise.all(Array.from({ length: 10 }, () => get(k, '/api/c')));
        for (const r of all) assert.equal(r.body, 'slow');
        assert.equal(slow.requests.length, 1, 'one upstream request');
        const m = await metrics(k);
        const route = { route: 'proxy:/api' };
        assert.equal(metric(m, 'kvedge_cache_requests_total', { ...route, status: 'miss' }), 1);
        assert.equal(metric(m, 'kvedge_cache_coalesced_total', route), 9);
        const lines = await waitFor(() => {
            const l = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((x) => x.startsWith('GET /api/c ')) : [];
            return l.length === 10 ? l : null;
        }, { message: 'ten access log lines' });
        assert.deepEqual(lines.map((l) => l.split(' ').at(-1)).sort(), ['COALESCED', 'COALESCED', 'COALESCED', 'COALESCED', 'COALESCED',
            'COALESCED', 'COALESCED', 'COALESCED', 'COALESCED', 'MISS']);
    } finally {
        assertCleanExit(await k.stop());
        await slow.stop();
        await redis.stop();
    }
});
