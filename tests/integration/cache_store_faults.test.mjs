// Issue 8: the cache's store killed or frozen under load, beyond cache_store_down.test.mjs (sequential requests, a clean
// stop) and cache_robust.test.mjs (SIGSTOP with warm objects only). Here, with 24 requests in flight and a mix of hits,
// misses that store (64 KiB bodies, so store batches are on the wire when the store goes away) and uncacheable answers:
// - redis-server SIGKILLed: 0 5xx, every answer within store_timeout + slack, caching resumes after a restart;
// - redis-server SIGSTOPped with store batches in flight: the same, and after SIGCONT every hit is intact;
// - redis-server SIGKILLed with AOF (appendfsync always) while objects are being stored, then restarted from its AOF:
//   whatever survived is whole (a hit is byte-exact, never a head without its body or a mixed reply);
// - a store evicting under maxmemory all the time: every reply is whole (a lost head or body is a miss);
// - after a mixed workload (variants with different TTLs, revalidations that rewrite a head on 304, invalidation by a
//   POST, store_set_cookie), DBSIZE is back to its baseline once the longest TTL has passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http_ from 'node:http';
import { assertCleanExit, SANITIZE, sleep, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { assertStatus, cacheKeys, get } from './cache_helpers.mjs';

const SLOW = SANITIZE ? 3 : 1;
const STORE_TIMEOUT_MS = 200;
const SLACK_MS = 800; // a loaded 2-core machine: the origin's answer and the scheduler
const BIG = 64 * 1024;

/** The body the origin sends for `url`: deterministic (a hit can be compared byte for byte), `size` bytes. */
function bodyOf(url, size) {
    const seed = crypto.createHash('sha256').update(url).digest('hex');
    return seed.repeat(Math.ceil(size / seed.length)).slice(0, size);
}

/**
 * The origin: /big/*  64 KiB, max-age=60 (deterministic); /small/* 200 bytes, max-age=60; /nostore/* no-store;
 * /v/*: Vary: Accept-Language, max-age from ?ttl=; /etag/*: max-age=1, ETag, 304 on If-None-Match;
 * /cookie/*: max-age=1 + Set-Cookie.
 */
function startFaultOrigin() {
    return startUpstream((req, res) => {
        const url = new URL(req.url, 'http://o');
        const p = url.pathname;
        const send = (status, headers, body = '') => {
            res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
            res.end(body);
        };
        if (req.method === 'POST') return send(201, {}, '');
        if (p.startsWith('/big/')) return send(200, { 'cache-control': 'max-age=60' }, bodyOf(req.url, BIG));
        if (p.startsWith('/small/')) return send(200, { 'cache-control': 'max-age=60' }, bodyOf(req.url, 200));
        if (p.startsWith('/nostore/')) return send(200, { 'cache-control': 'no-store' }, bodyOf(req.url, 200));
        if (p.startsWith('/v/'))
            return send(200, { 'cache-control': `max-age=${url.searchParams.get('ttl') ?? 1}`, vary: 'Accept-Language' },
                `lang=${req.headers['accept-language'] ?? ''}`);
        if (p.startsWith('/etag/')) {
            if (req.headers['if-none-match'] === '"e1"') return send(304, { 'cache-control': 'max-age=1', etag: '"e1"' });
            return send(200, { 'cache-control': 'max-age=1', etag: '"e1"' }, bodyOf(req.url, 300));
        }
        if (p.startsWith('/cookie/')) return send(200, { 'cache-control': 'max-age=1', 'set-cookie': 'a=b' }, bodyOf(req.url, 100));
        return send(404, {}, 'not found');
    });
}

/**
 * `n` requests, `concurrency` at a time, over kept-alive connections; `pathOf(i)` names the i-th. Records every
 * status, the slowest answer, and every body that is not the origin's (a corrupt reply).
 */
async function load(k, n, concurrency, pathOf, { during } = {}) {
    const agent = new http_.Agent({ keepAlive: true, maxSockets: concurrency });
    const statuses = {};
    const wrong = [];
    let hits = 0;
    let next = 0,
        slowest = 0,
        slowestPath = '';
    const one = (path) =>
        new Promise((resolve) => {
            const req = http_.get(`${k.url}${path}`, { agent }, (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), cs: res.headers['cache-status'] }));
                res.on('error', (e) => resolve({ status: `error ${e.message}` }));
            });
            req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
            req.on('error', (e) => resolve({ status: `error ${e.message}` }));
        });
    const worker = async () => {
        while (next < n) {
            const i = next++;
            if (during && i === during.at) await during.fn();
            const path = pathOf(i);
            const t0 = Date.now();
            const r = await one(path);
            const ms = Date.now() - t0;
            if (ms > slowest) [slowest, slowestPath] = [ms, `${path} (${r.cs})`];
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
            if (/hit/.test(r.cs ?? '')) hits++;
            if (r.status === 200) {
                const up = path.replace(/^\/api/, '');
                const want = up.startsWith('/big/') ? bodyOf(up, BIG) : bodyOf(up, 200);
                if (r.body !== want) wrong.push(`${path}: ${r.body.length} bytes (${r.cs})`);
            }
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    agent.destroy();
    return { statuses, slowest, slowestPath, wrong, hits };
}

/** hits on 8 warm objects, misses that store 64 KiB bodies, small misses, uncacheable answers */
const mixed = (tag) => (i) => {
    switch (i % 4) {
        case 0:
            return `/api/small/warm${i % 8}`;
        case 1:
            return `/api/big/${tag}-${i}`;
        case 2:
            return `/api/small/${tag}-${i}`;
        default:
            return `/api/nostore/${tag}-${i}`;
    }
};

async function warm(k) {
    for (let i = 0; i < 8; i++) assert.equal((await get(k, `/api/small/warm${i}`)).status, 200);
    await waitFor(async () => /hit/.test((await get(k, '/api/small/warm7')).headers['cache-status'] ?? ''), { message: 'warm objects stored' });
}

function assertBounded(r, what) {
    console.log(`${what}: ${JSON.stringify(r.statuses)}, slowest ${r.slowest} ms (${r.slowestPath})`);
    assert.deepEqual(r.wrong, [], `${what}: replies that are not the origin's body`);
    assert.deepEqual(Object.keys(r.statuses), ['200'], `${what}: ${JSON.stringify(r.statuses)}`);
    assert.ok(r.slowest <= (STORE_TIMEOUT_MS + SLACK_MS) * SLOW,
        `${what}: the slowest answer took ${r.slowest} ms (${r.slowestPath}); store_timeout is ${STORE_TIMEOUT_MS} ms`);
}

for (const threads of [1, 2]) {
    test(`issue 8: redis-server SIGKILLed under load (hits, storing misses, no-store; ${threads} thread${threads > 1 ? 's' : ''}): 0 5xx, every answer within store_timeout + slack, caching resumes after a restart`, async () => {
        const redis = await startRedis();
        const origin = await startFaultOrigin();
        const k = await startKvedge({ threads, redis: redis.url,
            routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: `${STORE_TIMEOUT_MS}ms` } }] });
        try {
            await warm(k);
            const r = await load(k, 600, 24, mixed('kill'), { during: { at: 150, fn: () => redis.kill('SIGKILL') } });
            assert.equal(redis.running, false);
            assertBounded(r, 'store killed');
            assertStatus(await get(k, '/api/small/warm0'), /fwd=bypass; fwd-status=200; detail=store-(unavailable|timeout)/);
            await redis.restart();
            await waitFor(async () => /stored/.test((await get(k, '/api/small/after')).headers['cache-status'] ?? ''), {
                timeoutMs: 10_000,
                message: 'stores again after the restart',
            });
            await waitFor(async () => /hit/.test((await get(k, '/api/small/after')).headers['cache-status'] ?? ''), { message: 'a hit after the restart' });
        } finally {
            assertCleanExit(await k.stop());
            await origin.stop();
            await redis.stop();
        }
    });
}

test('issue 8: redis-server SIGSTOPped under load with store batches in flight: 0 5xx, every answer within store_timeout + slack; after SIGCONT every hit is intact', async () => {
    const redis = await startRedis();
    const client = redis.client();
    const origin = await startFaultOrigin();
    const k = await startKvedge({ threads: 1, redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: `${STORE_TIMEOUT_MS}ms` } }] });
    try {
        await warm(k);
        const r = await load(k, 500, 24, mixed('stop'), { during: { at: 100, fn: () => redis.kill('SIGSTOP') } });
        assertBounded(r, 'store stopped');
        await redis.kill('SIGCONT');
        // everything that was stored before or while frozen is whole: request every URL again, hits included
        await waitFor(async () => /hit/.test((await get(k, '/api/small/warm1')).headers['cache-status'] ?? ''), {
            timeoutMs: 10_000,
            message: 'hits again after SIGCONT',
        });
        const again = await load(k, 500, 8, mixed('stop'));
        assert.deepEqual(again.wrong, []);
        assert.deepEqual(again.statuses, { 200: 500 });
        for (const [key, pttl] of Object.entries(await cacheKeys(client))) assert.ok(pttl > 0, `${key} has PTTL ${pttl}`);
    } finally {
        await redis.kill('SIGCONT').catch(() => {});
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: redis-server SIGKILLed while objects are stored, restarted from its AOF: every object that survived is whole', async () => {
    const redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    const client = redis.client();
    const origin = await startFaultOrigin();
    const k = await startKvedge({ threads: 1, redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: `${STORE_TIMEOUT_MS}ms` } }] });
    const paths = (i) => (i % 2 ? `/api/big/aof-${i % 40}` : `/api/small/aof-${i % 40}`);
    try {
        const r = await load(k, 300, 16, paths, { during: { at: 60, fn: () => redis.kill('SIGKILL') } });
        assert.deepEqual(r.wrong, []);
        assert.deepEqual(Object.keys(r.statuses), ['200'], JSON.stringify(r.statuses));
        await redis.restart();
        await waitFor(async () => (await client.ping().catch(() => null)) === 'PONG', { message: 'redis back' });
        const keys = await client.keys('kvc1:*');
        assert.ok(keys.length > 0, 'some objects were stored before the kill (the test proves nothing otherwise)');
        const heads = keys.filter((x) => x.endsWith(':h')).length;
        const bodies = keys.filter((x) => x.endsWith(':b')).length;
        assert.equal(heads, bodies, `one body per head after the AOF replay: ${keys.join(' ')}`);
        // every URL: a hit is byte-exact, anything else goes to the origin; none is an error or a mixed reply
        await waitFor(async () => /hit|stored/.test((await get(k, '/api/small/aof-0')).headers['cache-status'] ?? ''), {
            timeoutMs: 10_000,
            message: 'the cache uses the store again',
        });
        const check = await load(k, 80, 4, paths);
        assert.deepEqual(check.wrong, []);
        assert.deepEqual(check.statuses, { 200: 80 });
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: a store evicting under maxmemory (allkeys-random, 3 MiB): every reply is whole, a lost head or body is a miss', async () => {
    const redis = await startRedis({ args: ['--maxmemory', '3mb', '--maxmemory-policy', 'allkeys-random'] });
    const client = redis.client();
    const origin = await startFaultOrigin();
    const k = await startKvedge({ threads: 1, redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: {} }] });
    // 60 URLs of 64 KiB (about 4 MiB) and 60 small ones, asked over and over: the store evicts all the time
    const paths = (i) => (i % 2 ? `/api/big/ev-${(i * 7) % 60}` : `/api/small/ev-${(i * 11) % 60}`);
    try {
        const r = await load(k, 1500, 16, paths);
        assert.deepEqual(r.wrong, [], 'replies that are not the origin\'s body');
        assert.deepEqual(r.statuses, { 200: 1500 });
        const evicted = Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))[1]);
        console.log(`eviction: ${evicted} keys evicted, ${r.hits} hits of 1500`);
        assert.ok(evicted > 0, 'the store evicted (the test proves nothing otherwise)');
        assert.ok(r.hits > 0, 'and still served hits');
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: after a mixed workload (variants with different TTLs, 304 revalidations, POST invalidation, store_set_cookie) DBSIZE returns to its baseline after the longest TTL', async () => {
    const redis = await startRedis();
    const client = redis.client();
    const origin = await startFaultOrigin();
    const k = await startKvedge({ threads: 1, redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { keep: '1s', store_set_cookie: true } }] });
    try {
        await client.set('unrelated', 'x'); // the baseline is not an empty store
        const baseline = await client.dbsize();
        const t0 = Date.now();
        // variants of one URL, the later ones with shorter and longer TTLs than the first
        for (const [lang, ttl] of [['de', 2], ['fr', 1], ['it', 3]])
            assertStatus(await get(k, `/api/v/a?ttl=${ttl}`, { 'accept-language': lang }), /stored/);
        // revalidated twice: the head is rewritten on each 304
        assertStatus(await get(k, '/api/etag/r'), /stored/);
        for (let i = 0; i < 2; i++) {
            await sleep(1100);
            assertStatus(await get(k, '/api/etag/r'), /fwd=stale; fwd-status=304/);
        }
        // stored without the cookie
        assertStatus(await get(k, '/api/cookie/c'), /stored/);
        // stored, then invalidated by a POST, then stored again
        assertStatus(await get(k, '/api/v/p?ttl=2', { 'accept-language': 'de' }), /stored/);
        assert.equal((await get(k, '/api/v/p?ttl=2', {}, 'POST')).status, 201);
        assertStatus(await get(k, '/api/v/p?ttl=2', { 'accept-language': 'en' }), /stored/);
        await waitFor(async () => (await client.dbsize()) > baseline, { message: 'objects stored' });
        for (const [key, pttl] of Object.entries(await cacheKeys(client))) assert.ok(pttl > 0, `${key} has PTTL ${pttl}`);
        // the longest: the 3 s variant (+ keep 1 s) stored about 2.5 s after t0, the last 304 (max-age=1 + keep 1 s)
        await waitFor(async () => (await client.dbsize()) === baseline, {
            timeoutMs: 15_000,
            intervalMs: 200,
            message: `DBSIZE back to ${baseline}`,
        }).catch(async (e) => assert.fail(`${e.message}; left: ${JSON.stringify(await cacheKeys(client))}`));
        assert.ok(Date.now() - t0 >= 3000, 'not before the longest TTL');
        assert.equal(await client.get('unrelated'), 'x');
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});
