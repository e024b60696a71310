// Issue 8, the cache's RFC rules that the first slice left out, end to end through kvedge with a real redis-server
// and a recording origin (a hit is proven by the origin NOT seeing the request): the upstream Date and Connection
// that h2o's proxy drops, Surrogate-Control targeting, RFC 9213 targeted fields (CDN-Cache-Control and
// cache.targeted_field), cache.bypass, request only-if-cached, Cache-Status (fwd-status, stored, detail, key with
// cache.debug), the cap on Vary variants per URL, and that nothing is cached because of a file extension.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, freePort, http, makeTempDir, runKvedge, startKvedge, startRedis, startUpstream, waitFor, writeConfig } from './harness.mjs';

let redis, origin, client;

// The origin answers 200 with the response header fields the query asks for: `?h=Name:Value&h=...`; the body
// counts the requests for the URL. `Date: @N` is the HTTP-date of now + N seconds. Vary responses reflect
// Accept-Language in the body.
function httpDate(offset) {
    return new Date(Date.now() + offset * 1000).toUTCString();
}

before(async () => {
    redis = await startRedis();
    client = redis.client();
    const counters = new Map();
    origin = await startUpstream((req, res) => {
        const n = (counters.get(req.url) ?? 0) + 1;
        counters.set(req.url, n);
        const url = new URL(req.url, 'http://x');
        const headers = [];
        for (const h of url.searchParams.getAll('h')) {
            const i = h.indexOf(':');
            let value = h.slice(i + 1);
            if (value.startsWith('@')) value = httpDate(Number(value.slice(1)));
            headers.push([h.slice(0, i), value]);
        }
        const body = JSON.stringify({ n, lang: req.headers['accept-language'] ?? null, sc: req.headers['surrogate-capability'] ?? null });
        res.writeHead(200, [...headers.flat(), 'content-length', String(Buffer.byteLength(body))]);
        res.end(body);
    });
});

after(async () => {
    await origin?.stop();
    await redis?.stop();
});

beforeEach(async () => {
    await client.flushall();
    origin.clear();
});

/**
 * kvedge with /api cached (`cache` its cache:); a store_timeout long enough for a loaded machine and the ASan build
 * (these tests are not about a slow store: a lookup past 250 ms would make a miss of an expected hit)
 */
async function withKvedge(cache, fn) {
    const k = await startKvedge({ threads: 1, redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: '3s', ...cache } }] });
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

/** a path whose origin response carries `fields` ([[name, value], ...]) */
function p(name, fields) {
    return `/api/${name}?${fields.map(([n, v]) => `h=${encodeURIComponent(`${n}:${v}`)}`).join('&')}`;
}

function get(k, path, headers = {}, method = 'GET') {
    return http(method, `${k.url}${path}`, { headers });
}

function seen(name) {
    return origin.requests.filter((r) => r.url.startsWith(`/${name}`)).length;
}

/** the keys of stored objects (heads, bodies, variant indexes), not coalescing's short-lived locks (":l") */
async function objectKeys() {
    return (await client.keys('kvc1:*')).filter((key) => !key.endsWith(':l') && !key.endsWith(':r'));
}

function status(r) {
    return r.headers['cache-status'] ?? '(none)';
}

test('issue 8: Expires is measured from the upstream Date that h2o\'s proxy drops (Expires before Date: not reused)', async () => {
    await withKvedge({}, async (k) => {
        // both 300 and 400 s ahead: fresh for 300 s if Date were lost, stale (Expires - Date < 0) with it
        const path = p('old-date', [['Expires', '@300'], ['Date', '@400'], ['ETag', '"x"']]);
        const first = await get(k, path);
        assert.equal(first.status, 200);
        const second = await get(k, path);
        assert.doesNotMatch(status(second), /hit/);
        assert.equal(seen('old-date'), 2);
        // Date 10 s ahead, Expires 20 s ahead, Age 15: the lifetime is 10 s, already used up
        const fast = p('fast-date', [['Date', '@10'], ['Expires', '@20'], ['Age', '15'], ['ETag', '"y"']]);
        await get(k, fast);
        assert.doesNotMatch(status(await get(k, fast)), /hit/);
        assert.equal(seen('fast-date'), 2);
        // and a sound Expires is still a hit
        const good = p('good-date', [['Date', '@0'], ['Expires', '@60']]);
        await get(k, good);
        assert.match(status(await get(k, good)), /^kvedge; hit; ttl=(59|60)$/);
    });
});

test('issue 8: fields the upstream\'s Connection lists are neither forwarded nor stored (RFC 9110 §7.6.1)', async () => {
    await withKvedge({}, async (k) => {
        const path = p('conn', [['Connection', 'x-a, X-B'], ['X-A', '1'], ['X-B', '2'], ['X-C', '3'], ['Cache-Control', 'max-age=60']]);
        const miss = await get(k, path);
        assert.equal(miss.headers['x-a'], undefined);
        assert.equal(miss.headers['x-b'], undefined);
        assert.equal(miss.headers['x-c'], '3');
        const hit = await get(k, path);
        assert.match(status(hit), /hit/);
        assert.equal(hit.headers['x-a'], undefined);
        assert.equal(hit.headers['x-b'], undefined);
        assert.equal(hit.headers['x-c'], '3');
    });
});

test('issue 8: Surrogate-Control targeted at kvedge (Surrogate-Capability sent) beats Cache-Control; other targets are ignored; never forwarded', async () => {
    await withKvedge({}, async (k) => {
        const path = p('sc-me', [['Cache-Control', 'no-store'], ['Surrogate-Control', 'max-age=60;kvedge']]);
        const miss = await get(k, path);
        assert.equal(JSON.parse(miss.body).sc, 'kvedge="Surrogate/1.0"', 'the origin saw kvedge\'s Surrogate-Capability');
        assert.match(status(miss), /stored/);
        assert.equal(miss.headers['surrogate-control'], undefined, 'not passed downstream');
        const hit = await get(k, path);
        assert.match(status(hit), /hit/);
        assert.equal(hit.headers['surrogate-control'], undefined);
        assert.equal(hit.headers['cache-control'], 'no-store', 'Cache-Control is for the caches downstream');
        const other = p('sc-other', [['Surrogate-Control', 'max-age=60;another-cdn']]);
        await get(k, other);
        assert.doesNotMatch(status(await get(k, other)), /hit/);
        assert.equal(seen('sc-other'), 2);
    });
});

test('issue 8: CDN-Cache-Control (RFC 9213) beats Cache-Control and is forwarded; cache.targeted_field beats both and is not', async () => {
    await withKvedge({}, async (k) => {
        const cdn = p('cdn', [['Cache-Control', 'no-store'], ['CDN-Cache-Control', 'max-age=60']]);
        const miss = await get(k, cdn);
        assert.match(status(miss), /stored/);
        assert.equal(miss.headers['cdn-cache-control'], 'max-age=60', 'RFC 9213 §3: forwarded for downstream CDNs');
        const hit = await get(k, cdn);
        assert.match(status(hit), /hit/);
        assert.equal(hit.headers['cdn-cache-control'], 'max-age=60');
        // CDN-Cache-Control: no-store overrides a fresh Cache-Control
        const nostore = p('cdn-nostore', [['Cache-Control', 'max-age=60'], ['CDN-Cache-Control', 'no-store']]);
        assert.match(status(await get(k, nostore)), /detail=no-store/);
        // an own field name is not honoured unless configured
        const own = p('unconfigured', [['Kvedge-Cache-Control', 'max-age=60']]);
        assert.match(status(await get(k, own)), /detail=no-freshness/);
    });
    await withKvedge({ targeted_field: 'Kvedge-Cache-Control' }, async (k) => {
        const post = await get(k, p('post-own', [['Kvedge-Cache-Control', 'max-age=60'], ['Surrogate-Control', 'max-age=60']]), {}, 'POST');
        assert.equal(post.headers['kvedge-cache-control'], undefined, 'not on responses to unsafe methods either');
        assert.equal(post.headers['surrogate-control'], undefined);
        const own = p('own', [['Cache-Control', 'max-age=1'], ['CDN-Cache-Control', 'no-store'], ['Kvedge-Cache-Control', 'max-age=60']]);
        const miss = await get(k, own);
        assert.match(status(miss), /stored/);
        assert.equal(miss.headers['kvedge-cache-control'], undefined, 'targeted at kvedge only: not passed downstream');
        assert.equal(miss.headers['cdn-cache-control'], 'no-store');
        const hit = await get(k, own);
        assert.match(status(hit), /^kvedge; hit; ttl=(59|60)$/);
        assert.equal(hit.headers['kvedge-cache-control'], undefined);
        assert.equal(seen('own'), 1);
        // an invalid Dictionary in the own field is ignored: CDN-Cache-Control decides
        const bad = p('own-bad', [['Kvedge-Cache-Control', 'max-age=60, ,'], ['CDN-Cache-Control', 'no-store']]);
        assert.match(status(await get(k, bad)), /detail=no-store/);
    });
});

test('issue 8: the targeted field never reaches the client from the memory tier either; bypass comes before it', async () => {
    await withKvedge({ targeted_field: 'Kvedge-Cache-Control', memory: '1MiB', bypass: [{ header: 'X-No-Cache' }] }, async (k) => {
        const path = p('mem-own', [['Kvedge-Cache-Control', 'max-age=60']]);
        assert.match(status(await get(k, path)), /stored/);
        let hit;
        for (let i = 0; i < 3 && !/detail=memory/.test(status(hit ?? {headers: {}})); ++i) hit = await get(k, path);
        assert.match(status(hit), /^kvedge; hit; ttl=\d+; detail=memory$/);
        assert.equal(hit.headers['kvedge-cache-control'], undefined);
        assert.match(status(await get(k, path, { 'x-no-cache': '1' })), /^kvedge; fwd=bypass; fwd-status=200; detail=header:x-no-cache$/);
        assert.equal(seen('mem-own'), 2);
    });
});

test('issue 8: cache.bypass: a listed header or cookie goes upstream uncached and its response is not stored', async () => {
    await withKvedge({ bypass: [{ header: 'Authorization' }, { cookie: 'session' }] }, async (k) => {
        const path = p('bp', [['Cache-Control', 'public, max-age=60']]);
        const a = await get(k, path, { authorization: 'Bearer x' });
        assert.equal(status(a), 'kvedge; fwd=bypass; fwd-status=200; detail=header:authorization');
        const c = await get(k, path, { cookie: 'theme=dark; session=abc' });
        assert.equal(status(c), 'kvedge; fwd=bypass; fwd-status=200; detail=cookie:session');
        assert.equal(seen('bp'), 2);
        assert.deepEqual(await objectKeys(), [], 'nothing stored');
        // a cookie whose name only contains "session" does not match; a plain request is cached as usual
        assert.match(status(await get(k, path, { cookie: 'xsession=1; sessionx=2' })), /fwd=uri-miss; fwd-status=200; stored/);
        const hit = await get(k, path);
        assert.match(status(hit), /hit/);
        // a bypassing request never reads the stored copy
        assert.match(status(await get(k, path, { Authorization: 'Basic eA==' })), /fwd=bypass/);
        assert.equal(seen('bp'), 4);
        // ... nor with only-if-cached, which then gets 504 without an upstream request
        const oic = await get(k, path, { Authorization: 'Basic eA==', 'cache-control': 'only-if-cached' });
        assert.equal(oic.status, 504);
        assert.equal(status(oic), 'kvedge; detail=header:authorization');
        assert.equal(seen('bp'), 4);
    });
});

test('issue 8: cache.bypass entries are checked by -t, and --help-config documents the new directives', async () => {
    const dir = makeTempDir();
    const listen = [{ host: '127.0.0.1', port: 1 }];
    const conf = (cache, name) => writeConfig({ listen, redis: redis.url, routes: [{ path: '/api', upstream: 'http://127.0.0.1:9/', cache }] },
        { dir, name });
    const cases = [
        [{ bypass: [{ header: 'A', cookie: 'b' }] }, /either \{ header: Name \} or \{ cookie: name \}/],
        [{ bypass: [{}] }, /either \{ header: Name \} or \{ cookie: name \}/],
        [{ bypass: [{ header: 'bad name' }] }, /bypass: "bad name" is not a header field name/],
        [{ bypass: [{ cookie: 'a=b' }] }, /bypass: "a=b" is not a cookie name/],
        [{ bypass: [{ query: 'x' }] }, /query/],
        [{ targeted_field: 'Cache-Control' }, /targeted_field: "cache-control" is already read by the cache/],
        [{ targeted_field: 'a b' }, /targeted_field: "a b" is not a header field name/],
        [{ max_variants: 0 }, /max_variants/],
    ];
    for (const [i, [cache, re]] of cases.entries()) {
        const r = await runKvedge(['-t', '-c', conf(cache, `bad${i}.yaml`)]);
        assert.notEqual(r.code, 0, JSON.stringify(cache));
        assert.match(r.stderr, re);
    }
    const good = await runKvedge(['-t', '-c', conf({ bypass: [{ header: 'X-Debug' }, { cookie: 'sid' }], targeted_field: 'Kvedge-Cache-Control',
        debug: true, max_variants: 8 }, 'good.yaml')]);
    assert.equal(good.code, 0, good.stderr);
    const help = await runKvedge(['--help-config']);
    for (const key of ['bypass', 'targeted_field', 'max_variants', 'debug'])
        assert.match(help.stdout, new RegExp(`\\b${key}\\b`));
});

test('issue 8: request only-if-cached: 504 without contacting the origin when nothing usable is stored, the stored response otherwise', async () => {
    await withKvedge({}, async (k) => {
        const path = p('oic', [['Cache-Control', 'max-age=60']]);
        const none = await get(k, path, { 'cache-control': 'only-if-cached' });
        assert.equal(none.status, 504);
        assert.equal(status(none), 'kvedge; detail=uri-miss');
        assert.equal(seen('oic'), 0, 'the origin was not contacted');
        await get(k, path);
        const hit = await get(k, path, { 'cache-control': 'only-if-cached' });
        assert.equal(hit.status, 200);
        assert.match(status(hit), /hit/);
        // stale, and the request does not accept it: 504; with max-stale it is served
        const stale = p('oic-stale', [['Cache-Control', 'max-age=1'], ['ETag', '"s"']]);
        await get(k, stale);
        await new Promise((r) => setTimeout(r, 2100));
        const s1 = await get(k, stale, { 'cache-control': 'only-if-cached' });
        assert.equal(s1.status, 504);
        assert.equal(status(s1), 'kvedge; detail=stale');
        const s2 = await get(k, stale, { 'cache-control': 'only-if-cached, max-stale' });
        assert.equal(s2.status, 200);
        assert.equal(seen('oic-stale'), 1);
    });
});

test('issue 8: Cache-Status: fwd-status on every forward, stored or why not, key= only with cache.debug (escaped)', async () => {
    await withKvedge({}, async (k) => {
        const stored = await get(k, p('cs', [['Cache-Control', 'max-age=60']]));
        assert.equal(status(stored), 'kvedge; fwd=uri-miss; fwd-status=200; stored');
        assert.equal(status(await get(k, p('cs-ns', [['Cache-Control', 'no-store']]))), 'kvedge; fwd=uri-miss; fwd-status=200; detail=no-store');
        assert.equal(status(await get(k, p('cs-priv', [['Cache-Control', 'private, max-age=60']]))),
            'kvedge; fwd=uri-miss; fwd-status=200; detail=private');
        assert.equal(status(await get(k, '/api/cs-post', {}, 'POST')), 'kvedge; fwd=method; fwd-status=200');
        assert.doesNotMatch(status(await get(k, p('cs', [['Cache-Control', 'max-age=60']]))), /key=/);
    });
    await withKvedge({ debug: true }, async (k) => {
        const path = `${p('dbg', [['Cache-Control', 'max-age=60']])}&q=%22quote%5C%0d%0a`;
        const miss = await get(k, path, { host: 'Example.COM' });
        const m = /^kvedge; fwd=uri-miss; fwd-status=200; stored; key="((?:[^"\\]|\\.)*)"$/.exec(status(miss));
        assert.ok(m, status(miss));
        assert.match(m[1], /dbg/, 'the key names the path');
        assert.doesNotMatch(m[1], /[\r\n]|[^\x20-\x7e]/, 'printable only');
        const hit = await get(k, path, { host: 'Example.COM' });
        assert.match(status(hit), /^kvedge; hit; ttl=\d+; key="/);
        assert.equal(/key=(".*")$/.exec(status(hit))[1], `"${m[1]}"`, 'the same key on the hit');
    });
});

test('issue 8: Cache-Status on a response h2o made itself (upstream unreachable): detail=upstream-error, nothing stored', async () => {
    const port = await freePort(); // nothing listens there
    const k = await startKvedge({ threads: 1, redis: redis.url,
        routes: [{ path: '/down', upstream: `http://127.0.0.1:${port}/`, cache: { store_timeout: '3s' } }] });
    try {
        const r = await get(k, '/down/x');
        assert.equal(r.status, 502);
        assert.equal(status(r), 'kvedge; fwd=uri-miss; fwd-status=502; detail=upstream-error');
        const post = await get(k, '/down/x', {}, 'POST');
        assert.equal(post.status, 502);
        assert.equal(status(post), 'kvedge; fwd=method; fwd-status=502; detail=upstream-error');
        assert.deepEqual(await objectKeys(), []);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 8: cache.max_variants: a client cycling Accept-Language cannot store more than the cap of variants per URL', async () => {
    await withKvedge({ max_variants: 3 }, async (k) => {
        const path = p('vary', [['Cache-Control', 'max-age=60'], ['Vary', 'Accept-Language']]);
        const statuses = [];
        for (let i = 0; i < 6; ++i) statuses.push(status(await get(k, path, { 'accept-language': `x-${i}` })));
        assert.deepEqual(statuses, [
            'kvedge; fwd=uri-miss; fwd-status=200; stored',
            'kvedge; fwd=vary-miss; fwd-status=200; stored',
            'kvedge; fwd=vary-miss; fwd-status=200; stored',
            'kvedge; fwd=vary-miss; fwd-status=200; detail=too-many-variants',
            'kvedge; fwd=vary-miss; fwd-status=200; detail=too-many-variants',
            'kvedge; fwd=vary-miss; fwd-status=200; detail=too-many-variants',
        ]);
        // the stored variants stay hits; the index and 3 variants (head + body each) are all the URL holds
        for (const lang of ['x-0', 'x-1', 'x-2']) assert.match(status(await get(k, path, { 'accept-language': lang })), /hit/, lang);
        await waitFor(async () => (await objectKeys()).length === 1 + 3 * 2, { message: 'the index and 3 variants' });
        const keys = await client.keys('kvc1:*');
        for (const key of keys) assert.ok((await client.pttl(key)) > 0, key);
        assert.equal(seen('vary'), 6);
    });
});

test('issue 8: never cached because of a file extension: /account/x.css with no freshness, private or a cookie is not stored (deception)', async () => {
    await withKvedge({ default_ttl: '0s' }, async (k) => {
        for (const [name, fields, headers, why] of [
            ['account/x.css', [['Content-Type', 'text/css']], {}, /detail=no-freshness/],
            ['account/y.css', [['Content-Type', 'text/html'], ['Cache-Control', 'private']], { cookie: 'session=1' }, /detail=private/],
            ['account/z.js', [['Cache-Control', 'max-age=60'], ['Set-Cookie', 'session=s']], {}, /detail=set-cookie/],
            ['profile.png', [['Cache-Control', 'no-store']], {}, /detail=no-store/],
        ]) {
            const path = p(name, fields);
            assert.match(status(await get(k, path, headers)), why, name);
            assert.doesNotMatch(status(await get(k, path, headers)), /hit/, name);
        }
        assert.deepEqual(await objectKeys(), [], 'nothing stored');
        // the same path with explicit freshness is cached: the extension changes nothing either way
        const ok = p('account/w.css', [['Cache-Control', 'max-age=60']]);
        await get(k, ok);
        assert.match(status(await get(k, ok)), /hit/);
        await waitFor(async () => (await objectKeys()).length === 2, { message: 'one object stored' });
    });
});
