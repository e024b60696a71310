// Issue 10, sessions and the shared cache on one route (docs/sessions.md §13): a request with a session (or a cookie
// the response clears) is neither served from nor stored in the cache (Cache-Status fwd=bypass; detail=session), a
// response that sets or clears the session cookie (Login, lazy Set) is not stored (detail=session), a cached response
// never carries the session's Set-Cookie, a background refresh does not store a response carrying session commands,
// and no x-session-* field is ever stored. A real redis-server, the recording upstream of session_helpers.mjs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    assertCleanExit, http, makeTempDir, runKvedge, sleep, startUpstream, waitFor, writeConfig,
} from './harness.mjs';
import {
    useSessionFixture, KEY, assertNoSessionHeaders, clears, handleOf, req, setCookies, startSessionKvedge,
} from './session_helpers.mjs';

let redis, app, client;
useSessionFixture((f) => ({ redis, app, client } = f));

/** /app: sessions (optional, write) and the cache; /plain: the cache only; both on `upstream` */
async function withKvedge(upstream, fn, cache = {}) {
    const k = await startSessionKvedge({ // F16: the sessions on the KV REST store in the rest run
        threads: 1,
        redis: redis.url,
        routes: [
            { path: '/app', upstream: `${upstream.url}/`, session: { mode: 'optional', write: true, jwt_key: KEY, store_timeout: '2s' },
                cache: { store_timeout: '2s', ...cache } },
            { path: '/plain', upstream: `${upstream.url}/`, cache: { store_timeout: '2s' } },
        ],
    });
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

const seen = (upstream, re) => upstream.requests.filter((r) => re.test(r.url)).length;
const cacheKeys = async () => (await client.keys('kvc1:{*')).filter((k) => !/:[lr]$/.test(k));
const status = (r) => r.headers['cache-status'] ?? '(none)';

/** an anonymous request until it is a hit (the store batch of the miss may still be on its way) */
async function hit(k, path) {
    return waitFor(async () => {
        const r = await req(k, path, null);
        return /^kvedge; hit/.test(status(r)) ? r : null;
    }, { timeoutMs: 5000, message: `a hit on ${path}` });
}

test('issue 10 §13: anonymous requests are cached; a request with a session bypasses the cache both ways (fwd=bypass; detail=session) and gets its own answer', async () => {
    await withKvedge(app, async (k) => {
        const first = await req(k, '/app/page', null);
        assert.match(status(first), /stored/);
        const h1 = await hit(k, '/app/page');
        assert.equal(JSON.parse(h1.body).headers['x-session-status'], 'anonymous');
        assert.deepEqual(setCookies(h1), []);
        assert.equal(seen(app, /^\/page/), 1);
        const h = handleOf(await req(k, '/app/login?u=u1', null));
        const mine = await req(k, '/app/page', h);
        assert.equal(mine.status, 200);
        assert.match(status(mine), /fwd=bypass; fwd-status=200; detail=session/);
        assert.doesNotMatch(status(mine), /stored/);
        assert.equal(JSON.parse(mine.body).headers['x-session-status'], 'active', 'not the anonymous object');
        assert.equal(seen(app, /^\/page/), 2, 'the session\'s request reached the upstream');
        assertNoSessionHeaders(mine);
        // its answer was not stored: anonymous visitors still get the anonymous object
        const after = await hit(k, '/app/page');
        assert.equal(JSON.parse(after.body).headers['x-session-status'], 'anonymous');
        assert.ok(!after.body.includes('x-session-jwt'), 'no JWT in a shared object');
        // a logged-in request to a URL nobody cached yet: not stored either
        await req(k, '/app/mine', h);
        await req(k, '/app/mine', h);
        assert.equal(seen(app, /^\/mine/), 2);
        const anon = await req(k, '/app/mine', null);
        assert.match(status(anon), /stored/, 'the first anonymous request is a miss');
        assert.equal(JSON.parse(anon.body).headers['x-session-status'], 'anonymous');
        // only-if-cached with a session: never from the shared cache
        const only = await req(k, '/app/page', h, { 'cache-control': 'only-if-cached' });
        assert.equal(only.status, 504);
        assert.match(status(only), /detail=session/);
    });
});

test('issue 10 §13: a response that sets the session cookie (Login, lazy Set) is never stored nor served from the cache; a cached response never carries the session\'s Set-Cookie', async () => {
    await withKvedge(app, async (k) => {
        const keys = (await cacheKeys()).length;
        const a = await req(k, '/app/login?u=u1', null);
        const ha = handleOf(a);
        assert.match(status(a), /detail=session/);
        assert.doesNotMatch(status(a), /stored/);
        assert.equal(a.headers['cache-control'], 'no-store');
        const b = await req(k, '/app/login?u=u1', null);
        const hb = handleOf(b);
        assert.notEqual(ha, hb, 'the second visitor got a login of its own, not the first one\'s cookie');
        assert.equal(seen(app, /^\/login/), 2);
        const set = '/app/set?j=%7B%22a%22%3A1%7D';
        const c = await req(k, set, null);
        const hc = handleOf(c);
        const d = await req(k, set, null);
        assert.notEqual(hc, handleOf(d));
        assert.equal(seen(app, /^\/set/), 2);
        await sleep(200);
        assert.equal((await cacheKeys()).length, keys, 'nothing was stored');
        // a malformed cookie: the response clears it, so it bypasses the cache too
        await req(k, '/app/page', null);
        await hit(k, '/app/page');
        const bad = await req(k, '/app/page', 'not-a-handle');
        assert.ok(clears(bad));
        assert.match(status(bad), /fwd=bypass; fwd-status=200; detail=session/);
        const again = await hit(k, '/app/page');
        assert.deepEqual(setCookies(again), [], 'the hit carries no cookie');
    });
});

test('issue 10 §13: a background refresh (stale-while-revalidate) whose answer carries X-Session-Login is not stored; no hit ever sets a cookie or creates a session', async () => {
    const mode = { login: false };
    const up = await startUpstream((rq, res) => {
        const headers = mode.login
            ? { 'cache-control': 'public, max-age=60', 'x-session-login': '{"sub":"admin"}' }
            : { 'cache-control': 'public, max-age=1, stale-while-revalidate=30' };
        const body = mode.login ? 'v2 welcome admin' : 'v1';
        res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
        res.end(body);
    });
    try {
        await withKvedge(up, async (k) => {
            assert.match(status(await req(k, '/app/swr', null)), /stored/);
            await sleep(2100);
            mode.login = true;
            const stale = await req(k, '/app/swr', null);
            assert.equal(stale.body, 'v1');
            assert.match(status(stale), /hit.*stale-while-revalidate/);
            await waitFor(() => up.requests.length === 2, { message: 'the refresh reached the upstream' });
            await sleep(300);
            for (let i = 0; i < 5; ++i) {
                const r = await req(k, '/app/swr', null);
                assert.equal(r.body, 'v1', 'the refresh\'s answer was not stored');
                assert.deepEqual(setCookies(r), []);
                assertNoSessionHeaders(r);
            }
            assert.deepEqual(await client.keys('kvs1:*'), [], 'no session was created from a cached or refreshed answer');
        });
    } finally {
        await up.stop();
    }
});

test('issue 10 §13: 10 parallel anonymous logins to one cacheable URL (request coalescing on) each get their own session; no follower is handed the leader\'s cookie', async () => {
    const up = await startUpstream((rq, res) => {
        setTimeout(() => {
            const body = 'welcome';
            res.writeHead(200, { 'cache-control': 'public, max-age=60', 'x-session-login': '{"sub":"u1"}',
                'content-length': Buffer.byteLength(body) });
            res.end(body);
        }, 200);
    });
    try {
        await withKvedge(up, async (k) => {
            const rs = await Promise.all(Array.from({ length: 10 }, () => req(k, '/app/login', null)));
            const handles = rs.map((r) => {
                assert.equal(r.status, 200);
                assert.match(status(r), /detail=session/);
                return handleOf(r);
            });
            assert.equal(new Set(handles).size, 10, 'ten different cookies');
            assert.equal(up.requests.length, 10, 'each login reached the upstream');
            assert.equal((await client.keys('kvs1:*:s:*')).length, 10, 'ten sessions (plus the user index)');
            assert.deepEqual(await cacheKeys(), []);
        });
    } finally {
        await up.stop();
    }
});

test('issue 10 §13: the cache never stores an x-session-* field (a stored one would replay a command to every visitor), also on a route without sessions', async () => {
    await withKvedge(app, async (k) => {
        const path = `/plain/raw?h=x-session-login&v=${encodeURIComponent('{"sub":"admin"}')}`;
        const miss = await http('GET', `${k.url}${path}`);
        assert.match(status(miss), /stored/);
        const h = await waitFor(async () => {
            const r = await http('GET', `${k.url}${path}`);
            return /^kvedge; hit/.test(status(r)) ? r : null;
        }, { timeoutMs: 5000, message: 'a hit' });
        assert.equal(h.headers['x-session-login'], undefined);
        assertNoSessionHeaders(h);
    });
});

test('issue 10 §13: configuration: session: and cache: on one route are accepted', async () => {
    const dir = makeTempDir();
    const cfg = { listen: [{ host: '127.0.0.1', port: 1 }], redis: redis.url,
        routes: [{ path: '/a', upstream: 'http://127.0.0.1:1/', session: { jwt_key: KEY }, cache: {} }] };
    const r = await runKvedge(['-t', '-c', writeConfig(cfg, { dir })]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
});
