// Issue 8, purge and tags: a recording origin (a miss after a purge is proven by the origin seeing the request again)
// and a real redis-server. URL purge with variants, tag purge (exact match, across URLs and with Cache-Tag's commas),
// route purge, soft purge (stale once, then refreshed), the admin token, bad input, hostile tag fields, TTLs of the sets.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { SANITIZE, assertCleanExit, http, makeTempDir, runKvedge, startKvedge, startRedis, startUpstream, waitFor, writeConfig } from './harness.mjs';
import { assertStatus, get, objectKeys, storedKeys } from './cache_helpers.mjs';

const ADMIN = 'admin-token-0123456789';
const RW = 'kv-rw-token-0123456789';
const RO = 'kv-ro-token-0123456789';

let redis, origin, client;

/**
 * The origin (paths after the route prefix):
 *   /t/<x>?tags=<list>  200, max-age=300, ETag, Surrogate-Key: <list> (when given), body {path, n}
 *   /v                  200, max-age=300, Vary: Accept-Language, Surrogate-Key: lang
 *   /swr/<x>            200, max-age=300, stale-while-revalidate=60, ETag "s1"; If-None-Match "s1" gets 304
 *   /swr1/<x>           200, max-age=2, stale-while-revalidate=30, no validator, Surrogate-Key: refreshed
 *   /ct                 200, max-age=300, Cache-Tag: "alpha, beta gamma,delta"
 *   /many               200, max-age=300, 10 000 tags (58 KB)
 *   /lots               200, max-age=300, 129 tags (one too many)
 *   /huge               200, max-age=300, a 1 MiB Surrogate-Key
 */
function startTagOrigin() {
    const counters = new Map();
    return startUpstream((req, res) => {
        const u = new URL(req.url, 'http://origin');
        const n = (counters.get(req.url) ?? 0) + 1;
        counters.set(req.url, n);
        const send = (status, headers, body = '') => {
            res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
            res.end(body);
        };
        const tags = u.searchParams.get('tags');
        if (u.pathname.startsWith('/t/'))
            return send(200, { 'cache-control': 'max-age=300', etag: '"t1"', ...(tags ? { 'surrogate-key': tags } : {}) },
                JSON.stringify({ path: u.pathname, n }));
        if (u.pathname === '/v')
            return send(200, { 'cache-control': 'max-age=300', vary: 'Accept-Language', 'surrogate-key': 'lang' },
                JSON.stringify({ lang: req.headers['accept-language'] ?? null, n }));
        if (u.pathname.startsWith('/swr/')) {
            const cc = 'max-age=300, stale-while-revalidate=60';
            if (req.headers['if-none-match'] === '"s1"') return send(304, { 'cache-control': cc, etag: '"s1"' });
            return send(200, { 'cache-control': cc, etag: '"s1"', 'surrogate-key': 'swr' }, JSON.stringify({ n }));
        }
        if (u.pathname.startsWith('/swr1/'))
            return send(200, { 'cache-control': 'max-age=2, stale-while-revalidate=30', 'surrogate-key': 'refreshed' }, JSON.stringify({ n }));
        if (u.pathname === '/ct') return send(200, { 'cache-control': 'max-age=300', 'cache-tag': 'alpha, beta gamma,delta' }, JSON.stringify({ n }));
        if (u.pathname === '/many')
            return send(200, { 'cache-control': 'max-age=300', 'surrogate-key': Array.from({ length: 10000 }, (_, i) => `t${i}`).join(' ') }, 'many');
        if (u.pathname === '/lots')
            return send(200, { 'cache-control': 'max-age=300', 'surrogate-key': Array.from({ length: 129 }, (_, i) => `t${i}`).join(' ') }, 'lots');
        if (u.pathname === '/huge') return send(200, { 'cache-control': 'max-age=300', 'surrogate-key': 'x'.repeat(1 << 20) }, 'huge');
        return send(404, {}, 'not found');
    });
}

before(async () => {
    redis = await startRedis();
    origin = await startTagOrigin();
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

function seenUrl(url) {
    return origin.requests.filter((r) => r.url === url).length;
}

async function withKvedge(fn, { admin = { token: ADMIN } } = {}) {
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        admin,
        kv: { tokens: [{ token: RW }, { token: RO, access: 'read-only' }] },
        routes: [
            { path: '/api', upstream: `${origin.url}/`, cache: {} },
            { path: '/other', upstream: `${origin.url}/`, cache: { tag_header: 'Cache-Tag' } },
            { path: '/raw', upstream: `${origin.url}/` },
        ],
    });
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

function purge(k, query, { token = ADMIN, method = 'POST' } = {}) {
    return http(method, `${k.adminUrl}purge?${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

async function purged(k, query, n, soft = false) {
    const r = await purge(k, query);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(r.body), { purged: n, soft });
}

/** GETs `path` until it is a hit (its store batch may still be on its way), returns the hit */
async function stored(k, path, headers = {}) {
    const first = await get(k, path, headers);
    assert.equal(first.status, 200);
    return waitFor(async () => {
        const r = await get(k, path, headers);
        return /hit/.test(r.headers['cache-status']) ? r : null;
    }, { timeoutMs: 5000, message: `${path} stored` });
}

test('issue 8: purge a URL: every Vary variant is gone, the next requests miss (the origin sees them again)', async () => {
    await withKvedge(async (k) => {
        await stored(k, '/api/v', { 'accept-language': 'en' });
        await stored(k, '/api/v', { 'accept-language': 'de' });
        assert.equal(seenUrl('/v'), 2);
        await purged(k, `url=${encodeURIComponent(`${k.url}/api/v`)}`, 2);
        assertStatus(await get(k, '/api/v', { 'accept-language': 'en' }), /fwd=uri-miss/);
        assertStatus(await get(k, '/api/v', { 'accept-language': 'de' }), /fwd=(uri|vary)-miss/);
        assert.equal(seenUrl('/v'), 4, 'both variants went to the origin again');
        // the URL's own object, with its query as the route keys it
        await stored(k, '/api/t/q?tags=a');
        await purged(k, `url=${encodeURIComponent(`${k.url}/api/t/q?tags=a`)}`, 1);
        assertStatus(await get(k, '/api/t/q?tags=a'), /fwd=uri-miss/);
        await purged(k, `url=${encodeURIComponent(`${k.url}/api/t/nothing`)}`, 0);
    });
});

test('issue 8: purge by tag: exact match, across URLs; objects with other tags stay; Cache-Tag lists tags with commas', async () => {
    await withKvedge(async (k) => {
        await stored(k, '/api/t/a?tags=common%20items/1');
        await stored(k, '/api/t/b?tags=items%20common');
        await stored(k, '/api/t/c?tags=items/10');
        const hit = await stored(k, '/other/ct');
        assert.equal(hit.headers['cache-tag'], undefined, 'the tag field never reaches clients');
        assert.equal((await get(k, '/api/t/a?tags=common%20items/1')).headers['surrogate-key'], undefined);
        await purged(k, 'tag=common', 2);
        assertStatus(await get(k, '/api/t/a?tags=common%20items/1'), /fwd=uri-miss/);
        assertStatus(await get(k, '/api/t/b?tags=items%20common'), /fwd=uri-miss/);
        assertStatus(await get(k, '/api/t/c?tags=items/10'), /hit/, 'a tag that only starts like the purged one stays');
        await purged(k, 'tag=items', 1); // b, stored again above; not items/1, not items/10
        assertStatus(await get(k, '/api/t/c?tags=items/10'), /hit/);
        await purged(k, 'tag=nothing&tag=alsonothing', 0);
        await purged(k, 'tag=beta%20gamma', 1);
        assertStatus(await get(k, '/other/ct'), /fwd=uri-miss/);
        assert.equal(seenUrl('/ct'), 2);
    });
});

test('issue 8: purge a route: every object of the route, none of another route', async () => {
    await withKvedge(async (k) => {
        await stored(k, '/api/t/r1');
        await stored(k, '/api/t/r2');
        await stored(k, '/api/v', { 'accept-language': 'fr' });
        await stored(k, '/other/ct');
        await purged(k, 'route=/api', 3);
        for (const p of ['/api/t/r1', '/api/t/r2']) assertStatus(await get(k, p), /fwd=uri-miss/);
        assertStatus(await get(k, '/api/v', { 'accept-language': 'fr' }), /miss/);
        assertStatus(await get(k, '/other/ct'), /hit/);
        await purged(k, 'route=/other/', 1);
        assertStatus(await get(k, '/other/ct'), /fwd=uri-miss/);
    });
});

test('issue 8: soft purge marks the object stale: the next request gets it stale while one refresh runs, then hits again', async () => {
    await withKvedge(async (k) => {
        const hit = await stored(k, '/api/swr/a');
        await stored(k, '/api/swr/b');
        const before = seenUrl('/swr/a');
        await purged(k, 'tag=swr&soft=1', 2, true);
        assert.ok(await client.exists(...(await client.keys('kvc1:{*'))) > 0, 'nothing was deleted');
        const stale = await get(k, '/api/swr/a');
        assert.equal(stale.status, 200);
        assert.equal(stale.body, hit.body, 'the stored object, not a new one');
        assertStatus(stale, /stale/);
        await waitFor(() => seenUrl('/swr/a') === before + 1, { timeoutMs: 5000, message: 'one refresh' });
        await waitFor(async () => /hit/.test((await get(k, '/api/swr/a')).headers['cache-status']), { timeoutMs: 5000, message: 'fresh again' });
        assert.equal(seenUrl('/swr/a'), before + 1, 'exactly one refresh');
        // a soft URL purge too
        await purged(k, `url=${encodeURIComponent(`${k.url}/api/swr/b`)}&soft=true`, 1, true);
        assertStatus(await get(k, '/api/swr/b'), /stale/);
    });
});

test('issue 8: purging needs the admin token: none, a wrong one, a KV token or a read-only KV token get 401; no admin.token: 403', async () => {
    await withKvedge(async (k) => {
        await stored(k, '/api/t/auth');
        for (const token of [null, 'wrong-token-0123456789', RW, RO]) {
            const r = await purge(k, 'route=/api', { token });
            assert.equal(r.status, 401, `token ${token}`);
            assert.match(r.headers['www-authenticate'], /Bearer/);
            assert.match(JSON.parse(r.body).error, /admin token required/);
        }
        assertStatus(await get(k, '/api/t/auth'), /hit/, 'nothing was purged');
        const kvRead = await http('GET', `${k.url}/kv/get/x`, { headers: { authorization: `Bearer ${RO}` } });
        assert.equal(kvRead.status, 200, 'the read-only token itself works on the KV API');
    });
    await withKvedge(async (k) => {
        const r = await purge(k, 'route=/api', { token: null });
        assert.equal(r.status, 403);
        assert.match(JSON.parse(r.body).error, /admin\.token/);
    }, { admin: {} });
});

test('issue 8: bad purge requests get a clear 4xx in JSON', async () => {
    await withKvedge(async (k) => {
        const cases = [
            ['', 400, /one of url, tag or route is required/],
            ['nope=1', 400, /unknown parameter/],
            ['url=a&tag=b', 400, /one of url, tag or route/],
            ['url=%zz', 400, /%-escape/],
            ['url=/api/x', 400, /absolute http/],
            ['url=ftp%3A%2F%2Fhost%2Fapi%2Fx', 400, /absolute http/],
            [`url=${encodeURIComponent('http://exa mple.com/api/x')}`, 400, /host/],
            [`url=${encodeURIComponent(`${k.url}/elsewhere`)}`, 404, /no cached route/],
            [`url=${encodeURIComponent(`${k.url}/raw/x`)}`, 404, /no cached route/],
            ['route=/raw', 404, /no cached route/],
            ['route=/nope', 404, /no cached route/],
            [`tag=${'x'.repeat(257)}`, 400, /tag/],
            [Array.from({ length: 33 }, (_, i) => `tag=t${i}`).join('&'), 400, /32 tags/],
            [`url=${encodeURIComponent(`${k.url}/api/${'x'.repeat(9000)}`)}`, 414, /too long/],
            ['route=/api&soft=maybe', 400, /soft/],
        ];
        for (const [query, status, re] of cases) {
            const r = await purge(k, query);
            assert.equal(r.status, status, `${query.slice(0, 60)}: ${r.body}`);
            assert.match(JSON.parse(r.body).error, re, query.slice(0, 60));
        }
        const getr = await purge(k, 'route=/api', { method: 'GET' });
        assert.equal(getr.status, 405);
        assert.equal(getr.headers.allow, 'POST, PURGE');
        const viaPurge = await purge(k, 'route=/api', { method: 'PURGE' });
        assert.equal(viaPurge.status, 200, 'PURGE works like POST');
    });
});

test('issue 8: a hostile upstream (10 000 tags, a 1 MiB tag field) is refused cleanly: not stored, no crash, one warning', async (t) => {
    await withKvedge(async (k) => {
        const many = await get(k, '/api/many');
        assert.equal(many.status, 200);
        assert.equal(many.body, 'many');
        assertStatus(many, /detail=tags-too-big/); // the field's size is checked before its tags are counted
        assert.equal(many.headers['surrogate-key'], undefined);
        assertStatus(await get(k, '/api/many'), /fwd=uri-miss/, 'not stored');
        const lots = await get(k, '/api/lots');
        assertStatus(lots, /detail=tags-too-many/);
        assert.equal(lots.headers['surrogate-key'], undefined);
        const huge = await get(k, '/api/huge');
        // h2o's proxy may refuse a response head this large itself (502); either way nothing is stored
        assert.ok(huge.status === 200 || huge.status === 502, `status ${huge.status}`);
        t.diagnostic(`a 1 MiB Surrogate-Key: ${huge.status} ${huge.headers['cache-status']}`);
        if (huge.status === 200) assertStatus(huge, /detail=tags-too-big/);
        assert.equal(huge.headers['surrogate-key'], undefined);
        assert.deepEqual(await objectKeys(client), [], 'nothing stored');
        assert.deepEqual(await client.keys('kvc1:[tr]:*'), [], 'no tag or route set');
        assert.equal((await http('GET', `${k.adminUrl}healthz`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
        await stored(k, '/api/t/after?tags=ok');
        await waitFor(() => /Surrogate-Key|surrogate-key/.test(k.stderr()), { message: 'the refusal logged' });
        assert.match(k.stderr(), /\[warn\] cache: route \/api: a response's surrogate-key was refused \(tags-too-big; .*not stored/);
        assert.equal(k.stderr().match(/was refused/g).length, 1, 'one warning a minute, not one per response');
    });
});

test('issue 8: tag, route and variant sets have TTLs that cover their longest member', async () => {
    await withKvedge(async (k) => {
        await stored(k, '/api/t/ttl?tags=one%20two');
        await stored(k, '/api/v', { 'accept-language': 'en' });
        await storedKeys(client, 6);
        const sets = [...(await client.keys('kvc1:t:*')), ...(await client.keys('kvc1:r:*')), ...(await client.keys('kvc1:{*}:s'))];
        assert.equal(sets.length, 5, `two tags, lang, the route, the variant set: ${sets.join(', ')}`);
        const heads = await client.keys('kvc1:{*:h');
        const longest = Math.max(...(await Promise.all(heads.map((h) => client.pttl(h)))));
        for (const key of sets) {
            const pttl = await client.pttl(key);
            assert.ok(pttl > 0, `${key} has PTTL ${pttl}`);
            assert.equal(await client.type(key), 'set');
        }
        // the route's set holds both objects: it lives as long as the longest (300 s + keep 1 h: it has an ETag)
        const route = (await client.keys('kvc1:r:*'))[0];
        assert.ok((await client.pttl(route)) >= longest - 2000, `route set ${await client.pttl(route)} vs ${longest}`);
        assert.equal(await client.scard(route), 2);
    });
});

test('issue 8: a tag on 10 000 objects is purged in well under a second (loopback), every object and the set gone', async (t) => {
    await withKvedge(async (k) => {
        await stored(k, '/api/t/real?tags=bulk');
        const [set] = await client.keys('kvc1:t:*');
        // 9 999 more objects as a fill leaves them (head, body, a member of the tag's set), written directly:
        // 10 000 fills through HTTP would measure the fills, not the purge
        const pipe = client.pipeline();
        for (let i = 0; i != 9999; ++i) {
            const p = i.toString(16).padStart(32, '0');
            pipe.set(`kvc1:{${p}}:h`, 'head', 'PX', 600_000);
            pipe.set(`kvc1:{${p}}:b`, 'body', 'PX', 600_000);
            pipe.sadd(set, p);
        }
        await pipe.exec();
        assert.equal(await client.scard(set), 10000);
        const t0 = Date.now();
        await purged(k, 'tag=bulk', 10000);
        const ms = Date.now() - t0;
        t.diagnostic(`purging 10 000 objects by tag took ${ms} ms`);
        assert.ok(ms < (SANITIZE ? 5000 : 1000), `purge took ${ms} ms`);
        assert.equal(await client.exists(set), 0, 'the set is empty, so gone');
        assert.deepEqual(await client.keys('kvc1:{*}:[hb]'), [], 'every head and body deleted');
        assertStatus(await get(k, '/api/t/real?tags=bulk'), /fwd=uri-miss/);
    });
});

test('issue 8: tag_header is checked (a field name), inherited from the top-level cache:, and documented in --help-config', async () => {
    const dir = makeTempDir();
    const listen = [{ host: '127.0.0.1', port: 1 }];
    const route = (cache) => ({ listen, redis: redis.url, routes: [{ path: '/api', upstream: 'http://127.0.0.1:9/', cache }] });
    const bad = await runKvedge(['-t', '-c', writeConfig(route({ tag_header: 'bad name' }), { dir })]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /tag_header: "bad name" is not a header field name/);
    const inherited = await runKvedge(['-t', '-c', writeConfig({ ...route({}), cache: { tag_header: 'x y' } }, { dir, name: 'b.yaml' })]);
    assert.notEqual(inherited.code, 0);
    assert.match(inherited.stderr, /tag_header: "x y" is not a header field name/);
    assert.equal((await runKvedge(['-t', '-c', writeConfig(route({ tag_header: 'Edge-Cache-Tag' }), { dir, name: 'c.yaml' })])).code, 0);
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /tag_header.*Surrogate-Key/);
    assert.match(help.stdout, /\/purge/);
});

test('issue 8: an object stored by a stale-while-revalidate background refresh keeps its tags and never shows the tag field', async () => {
    await withKvedge(async (k) => {
        await stored(k, '/api/swr1/a');
        // Date has whole seconds, so max-age=2 leaves a fresh window of 1 to 2 s: wait for the first stale
        // answer (it starts the one background refresh), then the refreshed object is fresh for at least 1 s,
        // many polls, before it too goes stale and a second refresh replaces it.
        const stale = await waitFor(async () => {
            const r = await get(k, '/api/swr1/a');
            return /stale-while-revalidate/.test(r.headers['cache-status']) ? r : null;
        }, { timeoutMs: 5000, intervalMs: 100, message: 'the object served stale' });
        assert.equal(JSON.parse(stale.body).n, 1);
        await waitFor(() => seenUrl('/swr1/a') === 2, { timeoutMs: 5000, message: 'the background refresh' });
        const fresh = await waitFor(async () => {
            const r = await get(k, '/api/swr1/a');
            return /hit; ttl=\d+$/.test(r.headers['cache-status']) && JSON.parse(r.body).n === 2 ? r : null;
        }, { timeoutMs: 5000, intervalMs: 20, message: 'the refreshed object served' });
        assert.equal(fresh.headers['surrogate-key'], undefined);
        await purged(k, 'tag=refreshed', 1);
        assertStatus(await get(k, '/api/swr1/a'), /fwd=uri-miss/);
    });
});

test('issue 8: a purge also evicts the memory tier: after a URL, tag or route purge the next request misses', async () => {
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        admin: { token: ADMIN },
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { memory: '1MiB' } }],
    });
    try {
        for (const [query, path] of [['url=URL', '/api/t/m1?tags=mem'], ['tag=mem', '/api/t/m2?tags=mem'], ['route=/api', '/api/t/m3']]) {
            await stored(k, path);
            await waitFor(async () => /detail=memory/.test((await get(k, path)).headers['cache-status']), { timeoutMs: 5000, message: `${path} in memory` });
            const q = query === 'url=URL' ? `url=${encodeURIComponent(`${k.url}${path}`)}` : query;
            assert.equal((await purge(k, q)).status, 200);
            assertStatus(await get(k, path), /fwd=uri-miss/);
        }
    } finally {
        assertCleanExit(await k.stop());
    }
});
