// The HTTP cache on a KV REST store (issue 9.5): kvedge A caches the route /api with its `store:` a KV REST store,
// kvedge B's /kv API on a real redis-server. Miss -> hit (the origin counts the requests), the objects in B's Redis
// with a TTL on every key, revalidation with a 304, invalidation by a POST: the same behaviour as on a Redis store.
// A response reaches the client before its store batch is sent (the fill stores what streamed), and the next request
// may be served by the other thread, whose link is not ordered with the first one's, so each step waits until the
// store holds what the previous one wrote before it expects a hit (or a miss after an invalidation).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';

import { assertCleanExit, http, sleep, startKvedge, startUpstream, waitFor } from './harness.mjs';
import { startKvStack, RW_TOKEN } from './kv_helpers.mjs';
import { assertStatus, cacheKeys, get, seen, startOrigin, storedKeys } from './cache_helpers.mjs';

let b, origin, binOrigin, a;

// bytes that are not UTF-8 (NUL, 0xff, a lone continuation byte...), as a gzip'd or image body has: a small body
// (sent hex-encoded in the transaction's script) and a large one (put aside first with PSETEX in the path form)
const BINARY = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 167 + 13) & 0xff));
const LARGE = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 131 + (i >> 9)) & 0xff));

before(async () => {
    b = await startKvStack();
    origin = await startOrigin();
    binOrigin = await startUpstream((req, res) => {
        const body = req.url === '/large' ? LARGE : BINARY;
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.end(body);
    });
    a = await startKvedge({
        threads: 2,
        stores: { central: { url: b.url, token: RW_TOKEN, command_timeout: '2s', connect_timeout: '1s' } },
        routes: [
            { path: '/api', upstream: `${origin.url}/`, cache: { store: 'central' } },
            { path: '/bin', upstream: `${binOrigin.url}/`, cache: { store: 'central' } },
        ],
    });
});

after(async () => {
    if (a) assertCleanExit(await a.stop(), 'kvedge A');
    await origin?.stop();
    await binOrigin?.stop();
    await b?.stop();
});

beforeEach(async () => {
    await b.io.flushall();
    origin.clear();
    binOrigin.clear();
});

test('issue 9.5: a cached route on a REST store: miss, stored in the remote Redis with TTLs, then hits the origin never sees', async () => {
    const miss = await get(a, '/api/fresh/a');
    assert.equal(miss.status, 200, miss.body);
    assertStatus(miss, /^kvedge; fwd=uri-miss; fwd-status=200; stored$/);
    await storedKeys(b.io, 2);
    for (const [key, pttl] of Object.entries(await cacheKeys(b.io))) assert.ok(pttl > 0, `${key} PTTL ${pttl}`);
    for (let i = 0; i < 6; i++) { // new connections: both threads' links
        const hit = await get(a, '/api/fresh/a');
        assert.equal(hit.status, 200);
        assertStatus(hit, /^kvedge; hit; ttl=(5[89]|60)$/);
        assert.equal(hit.body, miss.body);
        assert.equal(hit.headers.etag, '"f1"');
    }
    const head = await get(a, '/api/fresh/a', {}, 'HEAD');
    assertStatus(head, /hit/);
    assert.equal(seen(origin, '/fresh/a'), 1, 'the origin saw only the first request');
});

test('issue 9.5: a body that is not UTF-8 is stored on the REST store and served byte for byte', async () => {
    const miss = await http('GET', `${a.url}/bin/x`);
    assert.equal(miss.status, 200);
    assertStatus(miss, /stored/);
    assert.ok(miss.bodyBuffer.equals(BINARY));
    await storedKeys(b.io, 2);
    const hit = await http('GET', `${a.url}/bin/x`);
    assertStatus(hit, /hit/);
    assert.ok(hit.bodyBuffer.equals(BINARY), 'the same bytes');
    assert.equal(binOrigin.requests.length, 1);
    const large = await http('GET', `${a.url}/bin/large`);
    assertStatus(large, /stored/);
    await storedKeys(b.io, 4);
    const largeHit = await http('GET', `${a.url}/bin/large`);
    assertStatus(largeHit, /hit/);
    assert.ok(largeHit.bodyBuffer.equals(LARGE), 'the same 3 MiB');
    assert.equal(binOrigin.requests.length, 2);
    assert.deepEqual(await b.io.keys('kvedge:tx:*'), [], 'the staged argument was deleted by the transaction');
});

test('issue 9.5: a 64 KiB body round-trips through the REST store', async () => {
    const miss = await get(a, '/api/big');
    assertStatus(miss, /stored/);
    await storedKeys(b.io, 2);
    const hit = await get(a, '/api/big');
    assertStatus(hit, /hit/);
    assert.equal(hit.body.length, 64 * 1024);
    assert.equal(hit.body, miss.body);
    assert.equal(seen(origin, '/big'), 1);
});

test('issue 9.5: on a REST store a stale object is revalidated (304), its head updated, then hit', async () => {
    const first = await get(a, '/api/etag/r');
    assertStatus(first, /stored/);
    await storedKeys(b.io, 2);
    await sleep(3100); // max-age=2: stale
    const reval = await get(a, '/api/etag/r');
    assert.equal(reval.status, 200);
    assertStatus(reval, /^kvedge; fwd=stale; fwd-status=304; ttl=(59|60); stored$/);
    assert.equal(reval.body, first.body);
    assert.equal(reval.headers['x-from-304'], 'yes');
    assert.equal(reval.headers['x-version'], '1');
    const conditional = origin.requests.filter((r) => r.url === '/etag/r');
    assert.equal(conditional.length, 2);
    assert.equal(conditional[1].headers['if-none-match'], '"e1"');
    await waitFor(async () => Object.values(await cacheKeys(b.io)).every((pttl) => pttl > 60_000), {
        message: 'the 304\'s freshness stored',
    });
    const hit = await get(a, '/api/etag/r');
    assertStatus(hit, /hit/);
    assert.equal(seen(origin, '/etag/r'), 2);
    for (const [key, pttl] of Object.entries(await cacheKeys(b.io))) assert.ok(pttl > 60_000, `${key} PTTL ${pttl}`);
});

test('issue 9.5: on a REST store a POST invalidates the URL, Vary variants are kept apart', async () => {
    await get(a, '/api/fresh/p');
    await storedKeys(b.io, 2);
    assertStatus(await get(a, '/api/fresh/p'), /hit/);
    assert.equal((await get(a, '/api/fresh/p', {}, 'POST')).status, 201);
    await waitFor(async () => /fwd=uri-miss/.test((await get(a, '/api/fresh/p')).headers['cache-status']), {
        message: 'a miss after the POST',
    });
    await b.io.flushall();
    const en = await get(a, '/api/vary', { 'accept-language': 'en' });
    const fr = await get(a, '/api/vary', { 'accept-language': 'fr' });
    assert.equal(JSON.parse(en.body).lang, 'en');
    assert.equal(JSON.parse(fr.body).lang, 'fr');
    let en2;
    await waitFor(async () => /hit/.test((en2 = await get(a, '/api/vary', { 'accept-language': 'en' })).headers['cache-status']), {
        message: 'a hit for the en variant',
    });
    assert.equal(JSON.parse(en2.body).lang, 'en');
    const fr2 = await get(a, '/api/vary', { 'accept-language': 'fr' });
    assert.equal(JSON.parse(fr2.body).lang, 'fr', 'the variants are kept apart');
});
