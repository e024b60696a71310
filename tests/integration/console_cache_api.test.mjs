// Issue 13, the console's cache page (server side): api/cache/lookup (the route, key, Vary variants, each stored
// object's head, age, TTLs, tags and size) and api/cache/purge (the <admin>/purge code from a console session: URL,
// tag, route, soft), on a real redis-server with a recording origin. A miss after a purge is proven by Cache-Status
// and by the origin seeing the request again; who may purge (read-only, CSRF, Origin), bad input, the store down.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';

const ADMIN = 'cache-console-admin-token-5e2f91';
const READ_ONLY = 'cache-console-reader-token-77ab03';

let redis, origin, client, k;

/**
 * The origin (paths after the route prefix):
 *   /v          200, max-age=300, Vary: Accept-Language, Content-Language: <the request's>, Surrogate-Key: lang page-<lang>
 *   /t/<x>      200, max-age=300, Surrogate-Key: <?tags=> (when given)
 *   /swr/<x>    200, max-age=300, stale-while-revalidate=60, Surrogate-Key: swr
 */
function startOrigin() {
    return startUpstream((req, res) => {
        const u = new URL(req.url, 'http://origin');
        const send = (headers, body) => {
            res.writeHead(200, { 'content-length': Buffer.byteLength(body), ...headers });
            res.end(body);
        };
        const lang = req.headers['accept-language'] ?? 'none';
        if (u.pathname === '/v')
            return send({ 'cache-control': 'max-age=300', vary: 'Accept-Language', 'content-language': lang,
                'surrogate-key': `lang page-${lang}` }, JSON.stringify({ lang }));
        if (u.pathname.startsWith('/t/')) {
            const tags = u.searchParams.get('tags');
            return send({ 'cache-control': 'max-age=300', ...(tags ? { 'surrogate-key': tags } : {}) }, JSON.stringify({ path: u.pathname }));
        }
        if (u.pathname.startsWith('/swr/'))
            return send({ 'cache-control': 'max-age=300, stale-while-revalidate=60', 'surrogate-key': 'swr' }, 'swr');
        res.writeHead(404, { 'content-length': 0 });
        res.end();
    });
}

function config(redisUrl) {
    return {
        threads: 1,
        redis: redisUrl,
        admin: { token: ADMIN, read_only_token: READ_ONLY, console: { enabled: true, path: '/ui' } },
        routes: [
            { path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: '2s' } },
            { path: '/other', upstream: `${origin.url}/`, cache: { store_timeout: '2s' } },
            { path: '/raw', upstream: `${origin.url}/` },
        ],
    };
}

before(async () => {
    redis = await startRedis();
    origin = await startOrigin();
    client = redis.client();
    k = await startKvedge(config(redis.url));
});

after(async () => {
    if (k) assertCleanExit(await k.stop());
    await origin?.stop();
    await redis?.stop();
});

beforeEach(async () => {
    await client.flushall();
    origin.clear();
});

const seen = (url) => origin.requests.filter((r) => r.url === url).length;

/** logs in through the login form's POST; returns {cookie, csrf} */
async function session(kv, token = ADMIN) {
    const r = await http('POST', `${kv.url}/ui/login`, {
        body: `token=${encodeURIComponent(token)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: kv.url },
    });
    assert.equal(r.status, 303, r.body);
    const cookie = r.headers['set-cookie'][0].split(';')[0];
    const s = await http('GET', `${kv.url}/ui/api/session`, { headers: { cookie } });
    return { cookie, csrf: JSON.parse(s.body).csrf };
}

function lookup(s, url, kv = k) {
    return http('GET', `${kv.url}/ui/api/cache/lookup?url=${encodeURIComponent(url)}`, { headers: { cookie: s.cookie } });
}

function purge(s, body, { kv = k, headers = {} } = {}) {
    return http('POST', `${kv.url}/ui/api/cache/purge`, {
        body,
        headers: { cookie: s.cookie, origin: kv.url, 'x-console-csrf': s.csrf, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
}

async function purged(s, body, n, soft = false) {
    const r = await purge(s, body);
    assert.equal(r.status, 200, r.body);
    const j = JSON.parse(r.body);
    assert.equal(j.soft, soft);
    if (n === null) assert.ok(j.purged >= 1, r.body); // objects the requests in between stored again count too
    else assert.equal(j.purged, n, r.body);
}

const get = (path, headers = {}) => http('GET', `${k.url}${path}`, { headers });

/** GETs `path` until it is a hit (its store batch may still be on its way) */
async function stored(path, headers = {}) {
    await get(path, headers);
    return waitFor(async () => {
        const r = await get(path, headers);
        return /hit/.test(r.headers['cache-status']) ? r : null;
    }, { timeoutMs: 5000, message: `${path} stored` });
}

test('issue 13 console: cache lookup of a URL with two Vary variants: route, key, Vary, each head, age, TTLs, tags, sizes', async () => {
    const s = await session(k);
    await stored('/api/v', { 'accept-language': 'en' });
    await stored('/api/v', { 'accept-language': 'de' });
    const r = await lookup(s, `${k.url}/api/v`);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['content-type'], 'application/json');
    const j = JSON.parse(r.body);
    assert.equal(j.url, `${k.url}/api/v`);
    assert.equal(j.route, '/api');
    assert.equal(j.route_caches, true);
    assert.equal(j.cached, true);
    assert.equal(j.store, 'default');
    assert.equal(j.vary, 'accept-language');
    assert.match(j.key.name, /^kvc1:\{[0-9a-f]{32}\}$/);
    assert.equal(await client.exists(`${j.key.name}:v`), 1, 'the key named is the one the store holds');
    assert.deepEqual(j.key.fields.find(([n]) => n === 'path'), ['path', '/api/v']);
    assert.deepEqual(j.key.fields.find(([n]) => n === 'host'), ['host', `127.0.0.1:${k.port}`]);
    assert.equal(j.objects.length, 2);
    const langs = [];
    for (const o of j.objects) {
        assert.match(o.variant, /^[0-9a-f]{32}$/);
        assert.equal(o.status, 200);
        const lang = o.headers.find(([n]) => n.toLowerCase() === 'content-language')[1];
        langs.push(lang);
        assert.deepEqual(o.tags.sort(), ['lang', `page-${lang}`]);
        assert.ok(o.headers.every(([n]) => n.toLowerCase() !== 'surrogate-key'), 'the tag field is not stored as a header');
        assert.equal(o.lifetime, 300);
        assert.ok(o.age >= 0 && o.age < 30, `age ${o.age}`);
        assert.equal(o.fresh_for, 300 - o.age);
        assert.equal(o.stale, false);
        assert.equal(o.stale_while_revalidate_left, 0, 'no stale-while-revalidate: no window');
        assert.equal(o.stale_if_error_left, 0);
        assert.ok(o.store_ttl_ms > 200_000 && o.store_ttl_ms <= 300_000 + 3_600_000, `store ttl ${o.store_ttl_ms}`);
        assert.equal(o.body_bytes, JSON.stringify({ lang }).length);
        assert.equal(o.body_stored, true);
        assert.ok(o.stored_bytes > o.body_bytes + o.head_bytes - 1, 'head and body counted');
        assert.ok(Math.abs(o.stored_at - Date.now() / 1000) < 60);
    }
    assert.deepEqual(langs.sort(), ['de', 'en']);
    // the variant the console's own request gets (its Accept-Language), as the cache computes it
    for (const lang of ['de', 'en']) {
        const mine = JSON.parse((await http('GET', `${k.url}/ui/api/cache/lookup?url=${encodeURIComponent(`${k.url}/api/v`)}`,
            { headers: { cookie: s.cookie, 'accept-language': lang } })).body);
        const o = mine.objects.find((x) => x.variant === mine.request_variant);
        assert.ok(o, `a stored variant for ${lang}`);
        assert.equal(o.headers.find(([n]) => n.toLowerCase() === 'content-language')[1], lang);
    }
    assert.ok(!j.objects.some((x) => x.variant === j.request_variant), 'no Accept-Language: no variant stored for it');
});

test('issue 13 console: cache lookup of a URL not cached, of a route that does not cache, and of a URL no route serves', async () => {
    const s = await session(k);
    const none = await lookup(s, `${k.url}/api/t/never`);
    assert.equal(none.status, 200);
    const j = JSON.parse(none.body);
    assert.equal(j.cached, false);
    assert.equal(j.route, '/api');
    assert.deepEqual(j.objects, []);
    assert.equal(j.vary, null);
    assert.equal(j.request_variant, null);
    const raw = await lookup(s, `${k.url}/raw/x`);
    assert.equal(raw.status, 200);
    assert.deepEqual(JSON.parse(raw.body), { url: `${k.url}/raw/x`, route: '/raw', route_caches: false, cached: false, objects: [] });
    const elsewhere = await lookup(s, `${k.url}/elsewhere`);
    assert.equal(elsewhere.status, 404);
    assert.deepEqual(JSON.parse(elsewhere.body), { error: "no route serves the URL's path" });
    // the lookup wrote nothing
    assert.deepEqual(await client.keys('*'), []);
});

test('issue 13 console: cache lookup of records it cannot read: a head too large to show, a value that is no head record', async () => {
    const s = await session(k);
    await stored('/api/t/odd');
    const name = JSON.parse((await lookup(s, `${k.url}/api/t/odd`)).body).key.name;
    await client.set(`${name}:h`, 'x'.repeat(300 * 1024)); // written by someone else: over the 256 KiB a head may take here
    const big = JSON.parse((await lookup(s, `${k.url}/api/t/odd`)).body);
    assert.equal(big.cached, true);
    assert.equal(big.objects.length, 1);
    assert.equal(big.objects[0].too_large, true);
    assert.ok(big.objects[0].store_ttl_ms === -1, 'SET dropped the TTL');
    await client.set(`${name}:h`, 'not a head record');
    const odd = JSON.parse((await lookup(s, `${k.url}/api/t/odd`)).body);
    assert.equal(odd.cached, false, 'not ours: not shown');
    assert.deepEqual(odd.objects, []);
});

test('issue 13 console: purge a URL (every variant), a tag, a route through the console: the next request misses', async () => {
    const s = await session(k);
    await stored('/api/v', { 'accept-language': 'en' });
    await stored('/api/v', { 'accept-language': 'de' });
    await purged(s, `url=${encodeURIComponent(`${k.url}/api/v`)}`, 2);
    assert.match((await get('/api/v', { 'accept-language': 'en' })).headers['cache-status'], /fwd=uri-miss/);
    assert.equal(seen('/v'), 3, 'the origin saw it again');
    await waitFor(() => /hard purge by url from a console session/.test(k.stderr()), { message: 'the purge logged' });
    assert.ok(!k.stderr().includes('/api/v'), 'the purged URL is not logged');
    assert.equal(JSON.parse((await lookup(s, `${k.url}/api/t/a?tags=x`)).body).cached, false);

    await stored('/api/t/a?tags=one%20two');
    await stored('/api/t/b?tags=two');
    await stored('/api/t/c?tags=three');
    await purged(s, 'tag=two', 2);
    assert.match((await get('/api/t/a?tags=one%20two')).headers['cache-status'], /fwd=uri-miss/);
    assert.match((await get('/api/t/b?tags=two')).headers['cache-status'], /fwd=uri-miss/);
    assert.match((await get('/api/t/c?tags=three')).headers['cache-status'], /hit/, 'another tag stays');

    await stored('/other/t/o');
    await purged(s, 'route=%2Fapi', null);
    assert.match((await get('/api/t/c?tags=three')).headers['cache-status'], /fwd=uri-miss/);
    assert.match((await get('/other/t/o')).headers['cache-status'], /hit/, 'another route stays');
    assert.equal((await purge(s, 'route=/raw')).status, 404);
});

test('issue 13 console: soft purge through the console: the object stays, marked stale; the next request is served stale', async () => {
    const s = await session(k);
    await stored('/api/swr/a');
    await purged(s, `url=${encodeURIComponent(`${k.url}/api/swr/a`)}&soft=1`, 1, true);
    const j = JSON.parse((await lookup(s, `${k.url}/api/swr/a`)).body);
    assert.equal(j.cached, true, 'nothing deleted');
    assert.equal(j.objects[0].stale, true);
    assert.equal(j.objects[0].fresh_for, 0);
    assert.ok(j.objects[0].stale_while_revalidate_left > 50 && j.objects[0].stale_while_revalidate_left <= 60, 'the 60 s window, started now');
    assert.match((await get('/api/swr/a')).headers['cache-status'], /stale/);
    // a soft tag purge too
    await stored('/api/swr/b');
    await purged(s, 'tag=swr&soft=true', 2, true); // a (refreshed since) and b
    assert.match((await get('/api/swr/b')).headers['cache-status'], /stale/);
});

test('issue 13 console: a read-only session may look up but not purge (403); CSRF and Origin are checked', async () => {
    const ro = await session(k, READ_ONLY);
    await stored('/api/t/keep');
    assert.equal((await lookup(ro, `${k.url}/api/t/keep`)).status, 200);
    const refused = await purge(ro, 'route=/api');
    assert.equal(refused.status, 403);
    assert.deepEqual(JSON.parse(refused.body), { error: 'read-only session' });
    const rw = await session(k);
    const cases = [
        [{ 'x-console-csrf': '' }, /CSRF/],
        [{ 'x-console-csrf': 'f'.repeat(64) }, /CSRF/],
        [{ origin: 'http://evil.example' }, /Origin/],
    ];
    for (const [headers, re] of cases) {
        const r = await purge(rw, 'route=/api', { headers });
        assert.equal(r.status, 403, JSON.stringify(headers));
        assert.match(JSON.parse(r.body).error, re);
    }
    const noCookie = await http('GET', `${k.url}/ui/api/cache/lookup?url=${encodeURIComponent(`${k.url}/api/t/keep`)}`);
    assert.equal(noCookie.status, 401);
    assert.match((await get('/api/t/keep')).headers['cache-status'], /hit/, 'nothing was purged');
});

test('issue 13 console: bad cache input gets a clear 400 (or 413), in JSON', async () => {
    const s = await session(k);
    const long = `${k.url}/api/${'x'.repeat(9000)}`;
    const lookups = [
        ['', /one of url, tag or route is required/],
        [`url=${encodeURIComponent(long)}`, /url: too long/],
        [`url=${encodeURIComponent('ftp://host/api/x')}`, /absolute http/],
        ['url=%2Fapi%2Fx', /absolute http/],
        ['url=%zz', /%-escape/],
        [`url=${encodeURIComponent('http://exa mple.com/api/x')}`, /host/],
        ['tag=a', /url=/],
        [`url=${encodeURIComponent(`${k.url}/api/x`)}&soft=1`, /url=/],
    ];
    for (const [query, re] of lookups) {
        const r = await http('GET', `${k.url}/ui/api/cache/lookup?${query}`, { headers: { cookie: s.cookie } });
        assert.equal(r.status, 400, `${query.slice(0, 50)}: ${r.body}`);
        assert.match(JSON.parse(r.body).error, re, query.slice(0, 50));
    }
    const purges = [
        [`url=${encodeURIComponent(long)}`, 400, /url: too long/],
        [`url=${encodeURIComponent('javascript:alert(1)')}`, 400, /absolute http/],
        ['nope=1', 400, /unknown parameter/],
        [`tag=${'t'.repeat(257)}`, 400, /tag/],
        ['route=/api&soft=maybe', 400, /soft/],
        [`url=${encodeURIComponent(`${k.url}/elsewhere`)}`, 404, /no cached route/],
        [`tag=${'t'.repeat(20_000)}`, 413, /too large/],
    ];
    for (const [body, status, re] of purges) {
        const r = await purge(s, body);
        assert.equal(r.status, status, `${body.slice(0, 50)}: ${r.body}`);
        assert.match(JSON.parse(r.body).error, re, body.slice(0, 50));
    }
});

test('issue 13 console: the store down: lookup and purge answer 503 with a clear message; both work again when it is back', async () => {
    const own = await startRedis();
    const kv = await startKvedge(config(own.url));
    try {
        const s = await session(kv);
        await own.stop();
        const url = `${kv.url}/api/t/down`;
        const l = await lookup(s, url, kv);
        assert.equal(l.status, 503, l.body);
        assert.match(JSON.parse(l.body).error, /^the store failed: kv /);
        const p = await purge(s, `url=${encodeURIComponent(url)}`, { kv });
        assert.equal(p.status, 503, p.body);
        assert.match(JSON.parse(p.body).error, /^the store failed: kv /);
        await own.restart();
        await waitFor(async () => (await lookup(s, url, kv)).status === 200, { timeoutMs: 10_000, message: 'the lookup works again' });
        assert.equal((await purge(s, `url=${encodeURIComponent(url)}`, { kv })).status, 200);
    } finally {
        assertCleanExit(await kv.stop());
        await own.stop();
    }
});
