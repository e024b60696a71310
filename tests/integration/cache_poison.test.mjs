// Issue 8: cache poisoning and cache deception, beyond cache_http.test.mjs (which covers X-Forwarded-Host and
// X-Original-URL against a reflecting origin). Here: the rest of the request fields an origin may trust (X-Rewrite-URL,
// the method overrides, Forwarded, every X-Forwarded-*), the Host / absolute-form authority, a HEAD that must not
// become the GET object, a GET with a body, unkeyed fields the origin reflects (separated only by Vary or key.headers),
// and cache deception: /account.css on an origin that serves private data for any suffix is stored only when the origin
// says it is cacheable, whatever the extension. A real redis-server, a recording origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, rawRequest, startKvedge, startRedis, startUpstream } from './harness.mjs';
import { assertStatus, get } from './cache_helpers.mjs';

/** the keys of stored objects (heads, bodies, variant indexes); coalescing's lock and pass records (":l", with a
 * TTL) hold no response */
async function objectKeys(c) {
    return (await c.keys('kvc1:*')).filter((x) => /:[hbv]$/.test(x)).sort();
}

let redis, client, origin;

/**
 * The origin:
 *   /reflect*   200, max-age=60: the method, URL, every request field and the request body, as JSON
 *   /vary-x     200, max-age=60, Vary: X-Theme: the body reflects X-Theme
 *   /unkeyed    200, max-age=60, no Vary: the body reflects X-Theme (an origin bug a shared cache cannot see)
 *   /account*   the victim's private data for ANY suffix (/account.css, /account/x.css, /account;.css ...); how it is
 *               marked depends on the query: ?mode=none (no Cache-Control), private, cookie (max-age=60 + Set-Cookie),
 *               nocache (no-cache), public (public, max-age=60: the origin says it is cacheable)
 */
before(async () => {
    redis = await startRedis();
    client = redis.client();
    const counters = new Map();
    origin = await startUpstream((req, res, body) => {
        const url = new URL(req.url, 'http://origin');
        const n = (counters.get(req.url) ?? 0) + 1;
        counters.set(req.url, n);
        const send = (status, headers, text) => {
            res.writeHead(status, { 'content-length': Buffer.byteLength(text), 'content-type': 'application/json', ...headers });
            res.end(req.method === 'HEAD' ? undefined : text);
        };
        if (url.pathname.startsWith('/reflect'))
            return send(200, { 'cache-control': 'max-age=60' },
                JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body?.toString?.() ?? '', n }));
        if (url.pathname === '/vary-x')
            return send(200, { 'cache-control': 'max-age=60', vary: 'X-Theme' }, JSON.stringify({ theme: req.headers['x-theme'] ?? null }));
        if (url.pathname === '/unkeyed')
            return send(200, { 'cache-control': 'max-age=60' }, JSON.stringify({ theme: req.headers['x-theme'] ?? null }));
        if (url.pathname.startsWith('/account')) {
            const who = req.headers.authorization ?? req.headers.cookie ?? 'anonymous';
            const data = JSON.stringify({ user: who, email: `${who}@example.com`, n });
            const mode = url.searchParams.get('mode');
            const h = {
                none: {},
                private: { 'cache-control': 'private, max-age=60' },
                cookie: { 'cache-control': 'max-age=60', 'set-cookie': 'sid=victim-session' },
                nocache: { 'cache-control': 'no-cache' },
                nostore: { 'cache-control': 'no-store' },
                public: { 'cache-control': 'public, max-age=60' },
                maxage: { 'cache-control': 'max-age=60' },
            }[mode];
            return send(200, h ?? {}, data);
        }
        return send(404, { 'cache-control': 'max-age=0' }, '{}');
    });
});

after(async () => {
    await origin?.stop();
    await redis?.stop();
});

async function withKvedge(cache, fn) {
    await client.flushall();
    origin.clear();
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache }],
    });
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

const seenPath = (p) => origin.requests.filter((r) => r.url === p).length;

test('issue 8: poisoning: X-Rewrite-URL, X-HTTP-Method(-Override), X-Method-Override, X-Host, X-Original-Host, Forwarded and every X-Forwarded-* never reach the origin nor the object others get', async () => {
    await withKvedge({}, async (k) => {
        const evil = {
            'x-rewrite-url': '/admin',
            'x-original-url': '/admin',
            'x-http-method': 'DELETE',
            'x-http-method-override': 'PURGE',
            'x-method-override': 'PUT',
            'x-host': 'evil.example',
            'x-original-host': 'evil.example',
            forwarded: 'for=6.6.6.6;host=evil.example;proto=http',
            'x-forwarded-host': 'evil.example',
            'x-forwarded-proto': 'http-evil',
            'x-forwarded-scheme': 'nothttps',
            'x-forwarded-port': '6666',
            'x-forwarded-prefix': '/evil',
            'x-forwarded-server': 'evil.example',
            'x-forwarded-for': '6.6.6.6',
        };
        const first = await get(k, '/api/reflect/a', evil);
        assert.equal(first.status, 200);
        assertStatus(first, /fwd=uri-miss.*stored/);
        const seen = JSON.parse(first.body);
        assert.equal(seen.method, 'GET', 'no method override reached the origin');
        assert.equal(seen.url, '/reflect/a');
        const req = origin.requests.find((r) => r.url === '/reflect/a');
        for (const [name, value] of Object.entries(evil)) {
            const got = req.headers[name];
            // h2o's proxy adds its own X-Forwarded-For / -Proto: the client's values must not be part of them
            assert.ok(got === undefined || !got.includes(value), `${name}: the origin saw '${got}'`);
        }
        assert.doesNotMatch(first.body, /evil|6\.6\.6\.6|6666|\/admin|PURGE|DELETE|nothttps/);
        const other = await get(k, '/api/reflect/a');
        assertStatus(other, /hit/);
        assert.equal(other.body, first.body, 'others get the object the origin produced for a clean request');
        assert.equal(seenPath('/reflect/a'), 1);
    });
});

test('issue 8: poisoning: a method override on a GET neither invalidates nor changes the method; a POST still invalidates', async () => {
    await withKvedge({}, async (k) => {
        assertStatus(await get(k, '/api/reflect/m'), /stored/);
        for (const h of ['x-http-method-override', 'x-http-method', 'x-method-override'])
            assertStatus(await get(k, '/api/reflect/m', { [h]: 'POST' }), /hit/);
        assert.equal(seenPath('/reflect/m'), 1, 'a GET with an override header is a GET: served from the cache');
        const post = await get(k, '/api/reflect/m', {}, 'POST');
        assert.equal(post.status, 200);
        assertStatus(await get(k, '/api/reflect/m'), /fwd=uri-miss/);
    });
});

test('issue 8: poisoning: Host and the absolute-form authority are part of the key; another host never gets or replaces this host\'s object', async () => {
    await withKvedge({}, async (k) => {
        const mine = await get(k, '/api/reflect/h');
        assertStatus(mine, /stored/);
        // an attacker's Host: its own object (or an error), never this one replaced
        const evilHost = await get(k, '/api/reflect/h', { host: 'evil.example' });
        if (evilHost.status === 200) assertStatus(evilHost, /fwd=uri-miss/);
        const abs = await rawRequest(k.port, `GET http://evil.example/api/reflect/h HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`);
        assert.match(abs, /^HTTP\/1\.1 (200|400|404|421)/);
        if (/^HTTP\/1\.1 200/.test(abs)) assert.match(abs, /cache-status: kvedge; (fwd=uri-miss|hit)/i);
        const again = await get(k, '/api/reflect/h');
        assertStatus(again, /hit/);
        assert.equal(again.body, mine.body);
        // and the case or a trailing dot of the host is the same host (no second copy to poison)
        const upper = await get(k, '/api/reflect/h', { host: `127.0.0.1:${k.port}`.toUpperCase() });
        assertStatus(upper, /hit/);
    });
});

test('issue 8: poisoning: a HEAD miss does not store an empty GET object; the GET after it has the whole body', async () => {
    await withKvedge({}, async (k) => {
        const head = await get(k, '/api/reflect/head', {}, 'HEAD');
        assert.equal(head.status, 200);
        assert.equal(head.body, '');
        const g = await get(k, '/api/reflect/head');
        assert.equal(g.status, 200);
        assert.ok(g.body.length > 20, `the GET got ${g.body.length} body bytes`);
        assert.equal(JSON.parse(g.body).method, 'GET');
        const h2 = await get(k, '/api/reflect/head');
        assert.equal(h2.body, g.body);
    });
});

test('issue 8: poisoning: a GET with a body (a "fat GET") never decides what other clients get', async () => {
    await withKvedge({}, async (k) => {
        // the attacker: same URL, a body the origin would act upon
        const { http } = await import('./harness.mjs');
        const evil = await http('GET', `${k.url}/api/reflect/fat2`, { body: '_method=DELETE&evil=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        assert.ok(evil.status < 500, `status ${evil.status}`);
        const seenBody = origin.requests.find((r) => r.url === '/reflect/fat2')?.body ?? '';
        if (seenBody !== '') assert.doesNotMatch(evil.headers['cache-status'] ?? '', /stored|hit/, 'a response to a GET with a body was stored');
        const victim = await get(k, '/api/reflect/fat2');
        assert.equal(victim.status, 200);
        assert.doesNotMatch(victim.body, /evil|DELETE/, 'a response made from a request body was served to another client');
    });
});

test('issue 8: poisoning: a field the origin reflects is separated by Vary and by key.headers', async () => {
    await withKvedge({ key: { headers: ['X-Theme'] } }, async (k) => {
        // Vary: the attacker's variant is not the victim's
        const evil = await get(k, '/api/vary-x', { 'x-theme': '<script>evil</script>' });
        assertStatus(evil, /stored/);
        const clean = await get(k, '/api/vary-x');
        assertStatus(clean, /fwd=(vary-miss|uri-miss)/);
        assert.equal(JSON.parse(clean.body).theme, null);
        // key.headers: the operator keys on a field the origin reflects without Vary
        assertStatus(await get(k, '/api/unkeyed', { 'x-theme': '<script>evil</script>' }), /stored/);
        const victim = await get(k, '/api/unkeyed');
        assert.equal(JSON.parse(victim.body).theme, null);
        assertStatus(await get(k, '/api/unkeyed', { 'x-theme': '<script>evil</script>' }), /hit/);
    });
});

// Cache deception: the origin ignores the suffix and serves the victim's private data. Nothing is stored unless the
// origin's own headers make it storable; the extension never does (no "cache by file extension").
const SUFFIXES = ['/account', '/account.css', '/account/x.css', '/account;x.css', '/account/..%2Fstatic.js', '/account%2Ex.png'];

test('issue 8: cache deception: /account.css and every suffix of a private page are not stored unless the origin says they are cacheable', async () => {
    await withKvedge({ keep: '1m' }, async (k) => {
        for (const mode of ['none', 'private', 'cookie', 'nocache', 'nostore']) {
            for (const s of SUFFIXES) {
                const p = `${s}?mode=${mode}`;
                const victim = await get(k, `/api${p}`, { cookie: 'sid=victim' });
                assert.equal(victim.status, 200, `${p}: ${victim.status}`);
                assert.match(victim.body, /victim/);
                const attacker = await get(k, `/api${p}`);
                assert.doesNotMatch(attacker.body, /victim/, `${p}: the attacker got the victim's data`);
                assert.doesNotMatch(attacker.headers['cache-status'] ?? '', /hit/, `${p}: ${attacker.headers['cache-status']}`);
            }
        }
        assert.deepEqual(await objectKeys(client), [], 'nothing was stored');
    });
});

test('issue 8: cache deception: a request with Authorization is not stored for a plain max-age (RFC 9111 §3.5), only when the origin says public', async () => {
    await withKvedge({}, async (k) => {
        const victim = await get(k, '/api/account.css?mode=maxage', { authorization: 'Bearer victim' });
        assert.match(victim.body, /victim/);
        assert.doesNotMatch(victim.headers['cache-status'] ?? '', /stored/);
        assert.deepEqual(await objectKeys(client), []);
        const attacker = await get(k, '/api/account.css?mode=maxage');
        assert.doesNotMatch(attacker.body, /victim/);
        assertStatus(attacker, /fwd=uri-miss/);
        await client.flushall();
        // the origin's explicit word: stored and shared (that is what "public" asks for)
        assertStatus(await get(k, '/api/account.css?mode=public', { authorization: 'Bearer shared' }), /stored/);
        assertStatus(await get(k, '/api/account.css?mode=public'), /hit/);
    });
});

test('issue 8: cache deception: with the origin saying cacheable, /account.css and /account are two objects (the extension changes nothing)', async () => {
    await withKvedge({}, async (k) => {
        const a = await get(k, '/api/account.css?mode=maxage');
        const b = await get(k, '/api/account?mode=maxage');
        assertStatus(a, /stored/);
        assertStatus(b, /stored/);
        assertStatus(await get(k, '/api/account.css?mode=maxage'), /hit/);
        assert.equal(seenPath('/account.css?mode=maxage'), 1);
        assert.equal(seenPath('/account?mode=maxage'), 1);
    });
});

test('issue 8: poisoning: with two Host fields (and preserve_host), the host in the key is the host the origin saw: the other host\'s object is never filled from it', async () => {
    await client.flushall();
    origin.clear();
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: {}, preserve_host: true }],
    });
    const raw = async (hosts, p) => {
        const text = await rawRequest(k.port, `GET ${p} HTTP/1.1\r\n${hosts.map((h) => `Host: ${h}\r\n`).join('')}Connection: close\r\n\r\n`);
        const body = text.slice(text.indexOf('\r\n\r\n') + 4);
        return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]), cs: /\r\ncache-status: ([^\r]*)/i.exec(text)?.[1] ?? '', body };
    };
    try {
        for (const order of [['victim.example', 'evil.example'], ['evil.example', 'victim.example']]) {
            const p = `/api/reflect/dup-${order[0]}`;
            const dup = await raw(order, p);
            if (dup.status !== 200) continue; // refusing two Host fields (400) is the other right answer
            const sawHost = JSON.parse(dup.body).headers.host;
            assert.ok(order.includes(sawHost), sawHost);
            // whichever host the origin saw, that host's object is the one stored; the other host's is untouched
            const same = await raw([sawHost], p);
            assert.match(same.cs, /hit/, `${sawHost}: ${same.cs}`);
            const other = await raw([order.find((h) => h !== sawHost)], p);
            assert.match(other.cs, /fwd=uri-miss/, `the other host: ${other.cs}`);
            assert.equal(JSON.parse(other.body).headers.host, order.find((h) => h !== sawHost));
        }
    } finally {
        assertCleanExit(await k.stop());
    }
});
