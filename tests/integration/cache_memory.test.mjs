// Issue 8, the cache's memory tier (`memory:` in a route's cache:) end to end, on a real redis-server and a recording
// origin: a memory hit is proven by the store not seeing a read (MONITOR) and the origin not seeing the
// request. Memory never serves stale, the LRU keeps to its budget, variants, eviction by an unsafe method, and two
// instances on one store: an invalidation on one evicts from the other's memory (pub/sub on the store).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, sleep, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { startKvStack } from './kv_helpers.mjs';
import { RW_TOKEN } from './restdrv_helpers.mjs';

let redis, origin, client;

/*
 * The origin: /obj/<name>?size=<n> 200, max-age=60, ETag, a body of n bytes (default a short JSON); /short/<name>
 * max-age=2 (no validator); /reval/<name> max-age=2, ETag "r1", and a 304 (max-age=60) to If-None-Match "r1";
 * /vary: Vary: Accept-Language, the body names the language. POST: 201.
 */
async function startOrigin() {
    const counters = new Map();
    return startUpstream((req, res) => {
        const n = (counters.get(req.url) ?? 0) + 1;
        counters.set(req.url, n);
        const send = (status, headers, body = '') => {
            res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
            res.end(body);
        };
        const url = new URL(req.url, 'http://x');
        if (req.method === 'POST') return send(201, { 'content-type': 'text/plain' });
        if (url.pathname.startsWith('/obj/')) {
            const size = Number(url.searchParams.get('size') ?? 0);
            const body = size > 0 ? 'x'.repeat(size) : JSON.stringify({ url: req.url, n });
            return send(200, { 'cache-control': 'max-age=60', etag: '"o1"', 'x-origin': 'yes' }, body);
        }
        if (url.pathname.startsWith('/reval/')) {
            if (req.headers['if-none-match'] === '"r1"') return send(304, { 'cache-control': 'max-age=60', etag: '"r1"' });
            return send(200, { 'cache-control': 'max-age=2', etag: '"r1"', 'x-version': String(n) }, JSON.stringify({ url: req.url, n }));
        }
        if (url.pathname.startsWith('/short/')) return send(200, { 'cache-control': 'max-age=2' }, JSON.stringify({ url: req.url, n }));
        if (url.pathname === '/vary')
            return send(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' },
                JSON.stringify({ lang: req.headers['accept-language'] ?? null, n }));
        return send(404, { 'cache-control': 'max-age=0' }, 'not found');
    });
}

before(async () => {
    redis = await startRedis();
    origin = await startOrigin();
    client = redis.client();
});

after(async () => {
    await origin?.stop();
    await redis?.stop();
});

beforeEach(async () => {
    await client.flushall();
    origin.clear();
});

function startMem(memory = '1MiB', threads = 2) {
    return startKvedge({
        threads,
        redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { memory } }],
    });
}

async function withKvedge(memory, fn, threads = 2) {
    const k = await startMem(memory, threads);
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

const get = (k, path, headers = {}, method = 'GET') => http(method, `${k.url}${path}`, { headers });
const seen = (url, method = 'GET') => origin.requests.filter((r) => r.url === url && r.method === method).length;
const fromMemory = (r) => /; detail=memory$/.test(r.headers['cache-status'] ?? '');

/** GETs `path` until it is answered from memory (the tier fills once the instance has subscribed to the channel) */
function untilMemory(k, path, headers = {}) {
    return waitFor(async () => {
        const r = await get(k, path, headers);
        return fromMemory(r) ? r : null;
    }, { timeoutMs: 10_000, intervalMs: 100, message: `${path} answered from memory` });
}

/**
 * Runs `fn` while MONITOR records the store's commands; returns the reads of cached objects among them (GETs of a
 * head, body or variant index key: "kvc1:{...}:h", ":b", ":v"; not, e.g., a coalescing lock's ":l").
 */
async function objectReads(fn) {
    const monitor = await redis.monitor();
    try {
        await fn();
        await sleep(50);
    } finally {
        monitor.disconnect();
    }
    const seenCmds = monitor.seen.map((c) => c.args);
    if (process.env.DBG_MON) console.log(JSON.stringify(seenCmds));
    // the object keys read (a lookup is one MGET of the index, head and body keys)
    return seenCmds
        .filter((a) => ['GET', 'MGET'].includes(String(a[0]).toUpperCase()))
        .flatMap((a) => a.slice(1).map(String))
        .filter((key) => /^kvc1:.*:[hbv]$/.test(key));
}


test('issue 8: a memory hit is answered without the store or the origin (Age, Cache-Status, HEAD, 304)', async () => {
    await withKvedge('1MiB', async (k) => {
        assert.equal((await get(k, '/api/obj/a')).status, 200);
        // (with two threads, a GET on the other link may run before the fill's write: count from here)
        const miss = await untilMemory(k, '/api/obj/a');
        const fetched = seen('/obj/a');
        const reads = await objectReads(async () => {
            for (let i = 0; i < 5; i++) {
                const hit = await get(k, '/api/obj/a');
                assert.equal(hit.status, 200);
                assert.match(hit.headers['cache-status'], /^kvedge; hit; ttl=(5[0-9]|60); detail=memory$/);
                assert.equal(hit.body, miss.body);
                assert.equal(hit.headers.etag, '"o1"');
                assert.equal(hit.headers['x-origin'], 'yes');
                assert.match(hit.headers.age, /^[0-9]$/);
                assert.equal(hit.headers['content-length'], String(Buffer.byteLength(miss.body)));
            }
            const head = await get(k, '/api/obj/a', {}, 'HEAD');
            assert.equal(head.status, 200);
            assert.ok(fromMemory(head), head.headers['cache-status']);
            assert.equal(head.body, '');
            assert.equal(head.headers['content-length'], String(Buffer.byteLength(miss.body)));
            const nm = await get(k, '/api/obj/a', { 'if-none-match': '"o1"' });
            assert.equal(nm.status, 304);
            assert.ok(fromMemory(nm));
            assert.equal(nm.headers.etag, '"o1"');
            assert.equal(nm.headers['x-origin'], undefined, 'a 304 carries only the fields RFC 9110 lists');
            assert.equal(nm.body, '');
            const other = await get(k, '/api/obj/a', { 'if-none-match': '"zz"' });
            assert.equal(other.status, 200);
            assert.ok(fromMemory(other));
        });
        assert.deepEqual(reads, [], 'the store saw no read of an object');
        assert.equal(seen('/obj/a'), fetched, 'the origin saw none of them');
        assert.equal(seen('/obj/a', 'HEAD'), 0);
    });
});

test('issue 8: memory is off without memory: (every hit reads the store)', async () => {
    await withKvedge('0', async (k) => {
        await get(k, '/api/obj/b');
        await waitFor(async () => (await client.keys('kvc1:{*:[hbv]')).length === 2 || null, { message: 'stored' });
        const reads = await objectReads(async () => {
            for (let i = 0; i < 3; i++) {
                const hit = await get(k, '/api/obj/b');
                assert.match(hit.headers['cache-status'], /^kvedge; hit; ttl=\d+$/);
            }
        });
        assert.equal(reads.length, 9, 'three lookups of three keys (index, head, body)');
    });
});

test('issue 8: memory never serves a stale object; a request that asks for validation goes past memory', async () => {
    await withKvedge('1MiB', async (k) => {
        await get(k, '/api/short/a');
        const hit = await untilMemory(k, '/api/short/a');
        const fetched = seen('/short/a');
        assert.match(hit.headers['cache-status'], /ttl=[0-2]; detail=memory$/);
        const nocache = await get(k, '/api/short/a', { 'cache-control': 'max-age=0' });
        assert.ok(!fromMemory(nocache), nocache.headers['cache-status']);
        // once its freshness is over (max-age=2, Age counted from the response), memory must not answer
        await sleep(3100);
        const stale = await get(k, '/api/short/a');
        assert.ok(!fromMemory(stale), stale.headers['cache-status']);
        assert.match(stale.headers['cache-status'], /fwd=(stale|uri-miss)/);
        assert.equal(seen('/short/a'), fetched + 2);
    });
});

test('issue 8: the memory tier keeps to its budget: the most recent objects stay, the oldest are evicted', async () => {
    // 256 KiB in 16 shards of 16 KiB; 4 KiB bodies: at most 3 per shard, 48 in all, of 160 objects (640 KiB)
    await withKvedge('256KiB', async (k) => {
        await untilMemory(k, '/api/obj/warm');
        const n = 160;
        for (let i = 0; i < n; i++) {
            const r = await get(k, `/api/obj/${i}?size=4096`);
            assert.equal(r.status, 200);
        }
        await waitFor(async () => (await client.keys('kvc1:{*:[hbv]')).length >= 2 * n || null, { message: 'all stored' });
        let inMemory = 0;
        for (let i = n - 1; i >= 0; i--) {
            const r = await get(k, `/api/obj/${i}?size=4096`);
            assert.equal(r.body.length, 4096);
            if (fromMemory(r)) inMemory++;
            else assert.match(r.headers['cache-status'], /^kvedge; hit; ttl=\d+$/, 'read from the store instead');
        }
        assert.ok(inMemory > 0, 'recent objects come from memory');
        assert.ok(inMemory <= 48, `${inMemory} objects of 4 KiB answered from a 256 KiB tier`);
        for (let i = 0; i < n; i++) assert.equal(seen(`/obj/${i}?size=4096`), 1);
    });
});

test('issue 8: an object larger than a shard of the tier is served from the store, never from memory', async () => {
    await withKvedge('64KiB', async (k) => {
        await untilMemory(k, '/api/obj/small');
        await get(k, '/api/obj/large?size=8192');
        await waitFor(async () => (await client.keys('kvc1:{*:[hbv]')).length >= 4 || null, { message: 'stored' });
        for (let i = 0; i < 3; i++) {
            const r = await get(k, '/api/obj/large?size=8192');
            assert.match(r.headers['cache-status'], /^kvedge; hit; ttl=\d+$/);
        }
    });
});

test('issue 8: variants in memory: each language its own object, a new language is not served another\'s', async () => {
    await withKvedge('1MiB', async (k) => {
        // one after the other is stored (with two threads, a lookup on the other link may not see the first index yet)
        const keys = (n) => waitFor(async () => (await client.keys('kvc1:{*:[hbv]')).length === n || null, { message: `${n} keys` });
        const en = await get(k, '/api/vary', { 'accept-language': 'en' });
        await keys(3);
        const fr = await get(k, '/api/vary', { 'accept-language': 'fr' });
        await keys(5);
        assert.equal(JSON.parse(en.body).lang, 'en');
        const enHit = await untilMemory(k, '/api/vary', { 'accept-language': 'en' });
        assert.equal(enHit.body, en.body);
        const frHit = await untilMemory(k, '/api/vary', { 'accept-language': 'fr' });
        assert.equal(frHit.body, fr.body);
        const de = await get(k, '/api/vary', { 'accept-language': 'de' });
        assert.ok(!fromMemory(de));
        assert.equal(JSON.parse(de.body).lang, 'de');
        const reads = await objectReads(async () => {
            for (const lang of ['en', 'fr']) {
                const r = await get(k, '/api/vary', { 'accept-language': lang });
                assert.ok(fromMemory(r), `${lang}: ${r.headers['cache-status']}`);
                assert.equal(JSON.parse(r.body).lang, lang);
            }
        });
        assert.deepEqual(reads, [], 'the store saw no read of an object');
        assert.equal(seen('/vary'), 3);
    });
});

test('issue 8: an unsafe method evicts the URL from memory', async () => {
    await withKvedge('1MiB', async (k) => {
        await get(k, '/api/obj/p');
        await untilMemory(k, '/api/obj/p');
        const fetched = seen('/obj/p');
        const post = await get(k, '/api/obj/p', {}, 'POST');
        assert.equal(post.status, 201);
        // evicted from memory before the POST's response went out
        const after = await get(k, '/api/obj/p');
        assert.ok(!fromMemory(after), after.headers['cache-status']);
        // the store's DEL went on the POST's thread's link: a GET on the other thread's link may still find the
        // object for a moment (that is the store's own ordering, not memory's)
        await waitFor(async () => seen('/obj/p') > fetched || (await get(k, '/api/obj/p'), seen('/obj/p') > fetched) || null,
            { timeoutMs: 5000, message: 'the object fetched again' });
    });
});

test('issue 8: two instances on one store: an invalidation on one evicts the object from the other\'s memory', async () => {
    const k1 = await startMem('1MiB');
    const k2 = await startMem('1MiB');
    const host = { host: 'shared.example' }; // one key for both (the key has the host, and they listen on two ports)
    const GET = (k) => get(k, '/api/obj/shared', host);
    try {
        await GET(k2);
        await untilMemory(k2, '/api/obj/shared', host);
        await untilMemory(k1, '/api/obj/shared', host);
        const fetched = seen('/obj/shared');
        const post = await get(k1, '/api/obj/shared', host, 'POST');
        assert.equal(post.status, 201);
        // k2 hears of it through the store's channel; its next GET must not come from memory
        await waitFor(async () => !fromMemory(await GET(k2)) || null, { timeoutMs: 5000, message: 'k2 evicted the object' });
        assert.equal(seen('/obj/shared'), fetched + 1, 'k2 fetched it again');
        // a purge of everything published on the channel (what the purge endpoints send) empties k1's memory too
        await untilMemory(k1, '/api/obj/shared', host);
        await client.publish('kvc1:mem', 'a');
        await waitFor(async () => !fromMemory(await GET(k1)) || null, { timeoutMs: 5000, message: 'k1 evicted everything' });
    } finally {
        assertCleanExit(await k1.stop());
        assertCleanExit(await k2.stop());
    }
});

test('issue 8: while the invalidation channel is lost, memory is emptied and unused until it is back', async () => {
    await withKvedge('1MiB', async (k) => {
        await get(k, '/api/obj/lost');
        await untilMemory(k, '/api/obj/lost');
        const fetched = seen('/obj/lost');
        // the subscription's connection dies: a message could be missed from now on, so memory must not answer
        assert.ok(Number(await client.client('KILL', 'TYPE', 'pubsub')) >= 1);
        await sleep(200);
        const during = await get(k, '/api/obj/lost');
        assert.match(during.headers['cache-status'], /^kvedge; hit; ttl=\d+$/, 'read from the store');
        // it resubscribes (a second later) and memory fills again
        await untilMemory(k, '/api/obj/lost');
        assert.equal(seen('/obj/lost'), fetched);
    });
});

test('issue 8: two spellings of one URL are two memory entries of one key: an invalidation evicts both', async () => {
    await withKvedge('1MiB', async (k) => {
        const lower = { host: 'case.example' }, upper = { host: 'CASE.Example' };
        await get(k, '/api/obj/case', lower);
        await untilMemory(k, '/api/obj/case', lower);
        await waitFor(async () => (await client.keys('kvc1:{*:[hbv]')).length === 2 || null, { message: 'stored' });
        const fetched = seen('/obj/case');
        await untilMemory(k, '/api/obj/case', upper);
        assert.equal(seen('/obj/case'), fetched, 'one key in the store');
        await get(k, '/api/obj/case', lower, 'POST');
        for (const h of [lower, upper]) {
            const r = await get(k, '/api/obj/case', h);
            assert.ok(!fromMemory(r), `${h.host}: ${r.headers['cache-status']}`);
        }
    });
});

test('issue 8: a route whose key has a request field: memory keeps one object per value', async () => {
    const k = await startKvedge({
        threads: 2,
        redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { memory: '1MiB', key: { headers: ['x-tenant'] } } }],
    });
    try {
        const a = await get(k, '/api/obj/tenant', { 'x-tenant': 'a' });
        const b = await get(k, '/api/obj/tenant', { 'x-tenant': 'b' });
        assert.notEqual(a.body, b.body);
        const ma = await untilMemory(k, '/api/obj/tenant', { 'x-tenant': 'a' });
        const mb = await untilMemory(k, '/api/obj/tenant', { 'x-tenant': 'b' });
        assert.notEqual(ma.body, mb.body);
        const fetched = seen('/obj/tenant');
        const none = await get(k, '/api/obj/tenant');
        assert.ok(!fromMemory(none));
        assert.equal(seen('/obj/tenant'), fetched + 1);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 8: on a KV REST store (no pub/sub) the memory tier stays off with a warning; the store serves the hits', async () => {
    const b = await startKvStack({ redis });
    let k;
    try {
        k = await startKvedge({
            threads: 1,
            stores: { central: { url: b.url, token: RW_TOKEN, command_timeout: '2s', connect_timeout: '1s' } },
            routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { memory: '1MiB', store: 'central' } }],
        });
        await get(k, '/api/obj/rest');
        const hit = await waitFor(async () => {
            const r = await get(k, '/api/obj/rest');
            return /^kvedge; hit; ttl=\d+$/.test(r.headers['cache-status'] ?? '') ? r : null;
        }, { message: 'a hit from the REST store' });
        assert.equal(hit.status, 200);
        const fetched = seen('/obj/rest'); // (a GET may run before the fill's write reached the store over REST)
        for (let i = 0; i < 3; i++) {
            const r = await get(k, '/api/obj/rest');
            assert.match(r.headers['cache-status'], /^kvedge; hit; ttl=\d+$/, 'from the store, never from memory');
        }
        assert.equal(seen('/obj/rest'), fetched);
    } finally {
        const res = k && (await k.stop());
        await b.stop();
        if (res) {
            assertCleanExit(res);
            assert.match(res.stderr, /memory tier off: the store cannot carry its invalidation channel/);
        }
    }
});

test('issue 8: an object revalidated upstream (304) goes back into memory with its new freshness', async () => {
    await withKvedge('1MiB', async (k) => {
        await get(k, '/api/reval/a');
        await untilMemory(k, '/api/reval/a');
        await sleep(2100); // max-age=2: stale now, in memory and in the store
        const reval = await get(k, '/api/reval/a');
        assert.match(reval.headers['cache-status'], /^kvedge; fwd=stale; fwd-status=304/);
        const hit = await get(k, '/api/reval/a');
        assert.match(hit.headers['cache-status'], /^kvedge; hit; ttl=(5[0-9]|60); detail=memory$/, 'the 304 gave it max-age=60');
        assert.equal(hit.headers['x-version'], '1', 'the stored body and fields, updated by the 304');
        const inm = origin.requests.filter((r) => r.url === '/reval/a').map((r) => r.headers['if-none-match'] ?? null);
        assert.deepEqual(inm, [null, '"r1"']);
    });
});
