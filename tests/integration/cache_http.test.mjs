// Issue 8, the HTTP cache's first slice, end to end: a recording origin (a hit is proven by the origin NOT seeing
// the request) and a real redis-server. Hits and misses with Cache-Status and Age, TTLs on every key and DBSIZE
// back to its baseline, what is not stored (no-store, Set-Cookie, Vary: *, too big), Vary variants, 304 answered
// from the cache, revalidation with the stored validators, invalidation by POST, poisoning attempts, the
// configuration (inheritance, store names, --help-config) and a plain route unchanged.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, makeTempDir, runKvedge, sleep, startRedis, waitFor, writeConfig } from './harness.mjs';
import { assertStatus, cacheKeys, get, objectKeys, seen, startCached, startOrigin, storedKeys } from './cache_helpers.mjs';

let redis, origin, client;

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

async function withKvedge(cache, fn, extra = {}) {
    const k = await startCached(redis, origin, cache, extra);
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

test('issue 8: a miss is stored while it streams, the next GET is a hit the origin never sees (Age, Cache-Status, HEAD)', async () => {
    await withKvedge({}, async (k) => {
        const miss = await get(k, '/api/fresh/a');
        assert.equal(miss.status, 200);
        assertStatus(miss, /^kvedge; fwd=uri-miss; fwd-status=200; stored$/);
        const hit = await get(k, '/api/fresh/a');
        assert.equal(hit.status, 200);
        assertStatus(hit, /^kvedge; hit; ttl=(59|60)$/);
        assert.equal(hit.body, miss.body);
        assert.equal(hit.headers.etag, '"f1"');
        assert.match(hit.headers.age, /^[01]$/);
        assert.equal(hit.headers['content-length'], String(Buffer.byteLength(miss.body)));
        const head = await get(k, '/api/fresh/a', {}, 'HEAD');
        assert.equal(head.status, 200);
        assertStatus(head, /hit/);
        assert.equal(head.body, '');
        assert.equal(head.headers['content-length'], String(Buffer.byteLength(miss.body)));
        assert.equal(seen(origin, '/fresh/a'), 1, 'the origin saw only the first request');
        assert.equal(seen(origin, '/fresh/a', 'HEAD'), 0);
    });
});

test('issue 8: every key written has a TTL, one object\'s keys share one {hash tag}', async () => {
    await withKvedge({}, async (k) => {
        await get(k, '/api/fresh/ttl');
        await get(k, '/api/vary', { 'accept-language': 'en' });
        await storedKeys(client, 5);
        const keys = await cacheKeys(client);
        const names = Object.keys(keys);
        assert.ok(names.length >= 5, `keys: ${names.join(', ')}`);
        for (const [key, pttl] of Object.entries(keys)) assert.ok(pttl > 0, `${key} has PTTL ${pttl}`);
        const tags = new Set(names.map((n) => /\{([0-9a-f]{32})\}/.exec(n)[1]));
        assert.equal(tags.size, 2, `two URLs, two hash tags: ${names.join(', ')}`);
        // /fresh/ttl: fresh for 60 s plus keep (1h), since it has an ETag; the variant: 60 s, no validator
        const variantTag = /\{([0-9a-f]{32})\}/.exec(names.find((n) => n.endsWith(':v')))[1];
        for (const n of names) {
            const [lo, hi] = n.includes(variantTag) ? [55_000, 60_000] : [3_655_000, 3_660_000];
            assert.ok(keys[n] > lo && keys[n] <= hi, `${n}: ${keys[n]}`);
        }
    });
});

test('issue 8: a body that is not the head\'s object (replaced, evicted) is a miss, never a mixed reply', async () => {
    await withKvedge({}, async (k) => {
        const first = await get(k, '/api/fresh/m');
        const body = (await storedKeys(client, 2)).find((n) => n.endsWith(':b'));
        const real = await client.getBuffer(body);
        // the same length, another object's id (as if the object was replaced between the head's read and the body's)
        await client.set(body, Buffer.concat([Buffer.from('0123456789abcdef'), real.subarray(16)]), 'PX', 60_000);
        const r1 = await get(k, '/api/fresh/m');
        assertStatus(r1, /fwd=uri-miss; fwd-status=200; stored/);
        assert.equal(JSON.parse(r1.body).n, 2);
        assertStatus(await get(k, '/api/fresh/m'), /hit/);
        await client.del(body); // evicted
        assertStatus(await get(k, '/api/fresh/m'), /fwd=uri-miss/);
        assert.equal(seen(origin, '/fresh/m'), 3);
        assert.notEqual(first.body, r1.body);
    });
});

test('issue 8: after the longest TTL (fresh + keep) every key has expired: DBSIZE is back to its baseline', async () => {
    await withKvedge({ keep: '1s' }, async (k) => {
        const baseline = await client.dbsize();
        assertStatus(await get(k, '/api/short/x'), /stored/); // max-age=2, no validator: 2 s
        assertStatus(await get(k, '/api/etag/x'), /stored/); // max-age=2 with a validator: 2 s + keep 1 s
        assertStatus(await get(k, '/api/vary', { 'accept-language': 'de' }), /stored/); // max-age=60
        await storedKeys(client, baseline + 7);
        for (const [key, pttl] of Object.entries(await cacheKeys(client))) assert.ok(pttl > 0, `${key} has PTTL ${pttl}`);
        await client.flushall(); // the 60 s object showed the variant keys have TTLs; it is not part of the wait
        assertStatus(await get(k, '/api/short/y'), /stored/);
        assertStatus(await get(k, '/api/etag/y'), /stored/);
        await storedKeys(client, baseline + 4);
        const t0 = Date.now();
        await waitFor(async () => (await client.dbsize()) === baseline, { timeoutMs: 8000, message: 'DBSIZE back to baseline' });
        assert.ok(Date.now() - t0 >= 900, 'not before the objects\' TTLs');
    });
});

test('issue 8: responses that are not stored say why, and the next request goes upstream', async () => {
    await withKvedge({ max_object_size: '16KiB' }, async (k) => {
        assertStatus(await get(k, '/api/nostore'), /^kvedge; fwd=uri-miss; fwd-status=200; detail=no-store$/);
        assertStatus(await get(k, '/api/nostore'), /fwd=uri-miss/);
        assert.equal(seen(origin, '/nostore'), 2);
        const c1 = await get(k, '/api/cookie');
        assert.match(c1.headers['set-cookie']?.[0] ?? '', /session=secret/);
        assertStatus(c1, /detail=set-cookie/);
        assertStatus(await get(k, '/api/cookie'), /fwd=uri-miss/);
        assert.equal(seen(origin, '/cookie'), 2);
        assertStatus(await get(k, '/api/varystar'), /detail=vary/);
        assertStatus(await get(k, '/api/varystar'), /fwd=uri-miss/);
        const big = await get(k, '/api/big');
        assert.equal(big.body.length, 64 * 1024, 'the large body streams through whole');
        assertStatus(big, /detail=too-big/);
        assertStatus(await get(k, '/api/big'), /fwd=uri-miss/);
        assert.equal(seen(origin, '/big'), 2);
        assertStatus(await get(k, '/api/plain'), /detail=no-freshness/);
        assert.deepEqual(await objectKeys(client), []);
    });
});

test('issue 8: store_set_cookie stores the response without its Set-Cookie; other clients never get the cookie', async () => {
    await withKvedge({ store_set_cookie: true }, async (k) => {
        const first = await get(k, '/api/cookie');
        assert.match(first.headers['set-cookie']?.[0] ?? '', /session=secret/, 'the client that caused the fill keeps its cookie');
        assertStatus(first, /stored/);
        const hit = await get(k, '/api/cookie');
        assertStatus(hit, /hit/);
        assert.equal(hit.headers['set-cookie'], undefined);
        assert.equal(seen(origin, '/cookie'), 1);
        for (const key of await storedKeys(client, 2)) assert.doesNotMatch(await client.getBuffer(key).then(String), /secret/);
    });
});

test('issue 8: Vary: one variant per Accept-Language value, found through the variant index', async () => {
    await withKvedge({}, async (k) => {
        const en = await get(k, '/api/vary', { 'accept-language': 'en' });
        assertStatus(en, /fwd=uri-miss; fwd-status=200; stored/);
        const fr = await get(k, '/api/vary', { 'accept-language': 'fr' });
        assertStatus(fr, /fwd=vary-miss; fwd-status=200; stored/);
        const en2 = await get(k, '/api/vary', { 'accept-language': 'en' });
        const fr2 = await get(k, '/api/vary', { 'accept-language': 'fr' });
        assertStatus(en2, /hit/);
        assertStatus(fr2, /hit/);
        assert.equal(JSON.parse(en2.body).lang, 'en');
        assert.equal(JSON.parse(fr2.body).lang, 'fr');
        assertStatus(await get(k, '/api/vary'), /fwd=vary-miss/); // absent differs from both
        assert.equal(seen(origin, '/vary'), 3);
    });
});

test('issue 8: a conditional GET is answered 304 from a fresh stored response', async () => {
    await withKvedge({}, async (k) => {
        await get(k, '/api/fresh/c');
        const nm = await get(k, '/api/fresh/c', { 'if-none-match': 'W/"f1"' });
        assert.equal(nm.status, 304);
        assert.equal(nm.body, '');
        assert.equal(nm.headers.etag, '"f1"');
        assertStatus(nm, /hit/);
        const other = await get(k, '/api/fresh/c', { 'if-none-match': '"other"' });
        assert.equal(other.status, 200);
        assertStatus(other, /hit/);
        assert.equal(seen(origin, '/fresh/c'), 1);
    });
});

test('issue 8: a stale object with a validator is revalidated; on 304 the stored head is updated and the stored body served', async () => {
    await withKvedge({}, async (k) => {
        const first = await get(k, '/api/etag/r');
        assertStatus(first, /stored/);
        await sleep(3100); // max-age=2: stale
        const reval = await get(k, '/api/etag/r');
        assert.equal(reval.status, 200);
        assertStatus(reval, /^kvedge; fwd=stale; fwd-status=304; ttl=(59|60); stored$/);
        assert.equal(reval.body, first.body);
        assert.equal(reval.headers['x-version'], '1', 'the stored fields the 304 did not replace are kept');
        assert.match(reval.headers['cache-control'], /max-age=60/, 'and those it sent replace them');
        assert.equal(reval.headers['x-from-304'], 'yes');
        assert.equal(reval.headers['content-md5'], 'stored', 'a field the stored body depends on is not replaced by a 304');
        const conditional = origin.requests.filter((r) => r.url === '/etag/r');
        assert.equal(conditional.length, 2);
        assert.equal(conditional[1].headers['if-none-match'], '"e1"');
        const hit = await get(k, '/api/etag/r'); // the 304's max-age=60 was stored
        assertStatus(hit, /hit/);
        assert.equal(hit.body, first.body);
        assert.equal(seen(origin, '/etag/r'), 2);
        for (const [key, pttl] of Object.entries(await cacheKeys(client))) assert.ok(pttl > 60_000, `${key} PTTL ${pttl}`);
    });
});

test('issue 8: a client conditional on a revalidated object gets 304', async () => {
    await withKvedge({}, async (k) => {
        await get(k, '/api/etag/c304');
        await sleep(3100);
        const r = await get(k, '/api/etag/c304', { 'if-none-match': '"e1"' });
        assert.equal(r.status, 304);
        assertStatus(r, /fwd=stale; fwd-status=304/);
    });
});

test('issue 8: a POST passes through and invalidates the URL (and a same-origin Location)', async () => {
    await withKvedge({}, async (k) => {
        await get(k, '/api/fresh/p');
        assertStatus(await get(k, '/api/fresh/p'), /hit/);
        const post = await get(k, '/api/fresh/p', {}, 'POST');
        assert.equal(post.status, 201);
        assertStatus(post, /^kvedge; fwd=method; fwd-status=201$/);
        assert.equal(seen(origin, '/fresh/p', 'POST'), 1);
        assertStatus(await get(k, '/api/fresh/p'), /fwd=uri-miss/);
        assert.equal(seen(origin, '/fresh/p'), 2);
        assertStatus(await get(k, '/api/fresh/p'), /hit/);
    });
});

test('issue 8: poisoning: X-Forwarded-Host and X-Original-URL never reach the origin nor change what others get', async () => {
    await withKvedge({}, async (k) => {
        const evil = await get(k, '/api/reflect', { 'x-forwarded-host': 'evil.example', 'x-original-url': '/admin',
            'x-http-method-override': 'DELETE', forwarded: 'host=evil.example' });
        assert.equal(evil.status, 200);
        const seenByOrigin = JSON.parse(evil.body);
        assert.equal(seenByOrigin.xfh, null);
        assert.equal(seenByOrigin.xou, null);
        assert.equal(seenByOrigin.url, '/reflect');
        const req = origin.requests.find((r) => r.url === '/reflect');
        for (const h of ['x-forwarded-host', 'x-original-url', 'x-http-method-override', 'forwarded'])
            assert.equal(req.headers[h], undefined, `${h} reached the origin`);
        const other = await get(k, '/api/reflect');
        assertStatus(other, /hit/);
        assert.doesNotMatch(other.body, /evil|admin/);
        assert.equal(seen(origin, '/reflect'), 1);
    });
});

test('issue 8: a route without cache: is untouched (no Cache-Status, every request upstream)', async () => {
    await withKvedge({}, async (k) => {
        const a = await get(k, '/raw/fresh/raw');
        const b = await get(k, '/raw/fresh/raw');
        assert.equal(a.headers['cache-status'], undefined);
        assert.equal(b.headers['cache-status'], undefined);
        assert.equal(seen(origin, '/fresh/raw'), 2);
        assert.deepEqual(await objectKeys(client), []);
    });
});

test('issue 8: the top-level cache: is inherited by routes that do not set a key; it caches nothing by itself', async () => {
    await withKvedge({ enabled: true }, async (k) => {
        assertStatus(await get(k, '/api/plain'), /stored/); // default_ttl 10s from the top-level block
        assertStatus(await get(k, '/api/plain'), /hit; ttl=(9|10)/);
        assert.equal((await get(k, '/raw/plain')).headers['cache-status'], undefined);
    }, { cache: { default_ttl: '10s' } });
    await withKvedge({}, async (k) => {
        assertStatus(await get(k, '/api/fresh/off'), /stored/);
        await storedKeys(client, 4);
        const ttl = Object.values(await cacheKeys(client));
        for (const p of ttl) assert.ok(p <= 62_000, `keep 0s inherited: PTTL ${p}`);
    }, { cache: { keep: '0s' } });
    await withKvedge({ enabled: false }, async (k) => {
        assert.equal((await get(k, '/api/fresh/x')).headers['cache-status'], undefined);
    });
});

test('issue 8: cache.store names a store; an unknown one is a configuration error; --help-config documents cache:', async () => {
    const dir = makeTempDir();
    const listen = [{ host: '127.0.0.1', port: 1 }];
    const file = writeConfig({ listen, redis: redis.url, routes: [{ path: '/api', upstream: 'http://127.0.0.1:9/', cache: { store: 'nope' } }] }, { dir });
    const r = await runKvedge(['-t', '-c', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /routes\[0\]\.cache\.store: unknown store "nope" \(the stores are: default\)/);
    const bad = writeConfig({ listen, redis: redis.url, routes: [{ path: '/api', upstream: 'http://127.0.0.1:9/', cache: { key: { headers: ['bad name'] } } }] },
        { dir, name: 'bad.yaml' });
    const r2 = await runKvedge(['-t', '-c', bad]);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /is not a header field name/);
    const help = await runKvedge(['--help-config']);
    for (const key of ['default_ttl', 'max_object_size', 'store_set_cookie', 'store_timeout', 'exclude_query', 'keep'])
        assert.match(help.stdout, new RegExp(key));
    const other = await startRedis();
    try {
        await withKvedge({ store: 'cache' }, async (k) => {
            assertStatus(await get(k, '/api/fresh/s'), /stored/);
            assertStatus(await get(k, '/api/fresh/s'), /hit/);
            assert.deepEqual(await objectKeys(client), [], 'nothing in the default store');
            await storedKeys(other.client(), 2);
        }, { stores: { cache: other.url } });
    } finally {
        await other.stop();
    }
});
