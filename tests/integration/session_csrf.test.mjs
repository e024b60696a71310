// Issue 10, the CSRF gate of session routes (docs/sessions.md §9, the note's S13): an unsafe request a browser sent
// from another origin (Sec-Fetch-Site, else Origin, else Referer) is answered 403 before the store or the upstream is
// asked; same-origin requests, listed origins, safe methods and non-browser clients go on. A real redis-server and
// the recording upstream of session_helpers.mjs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, makeTempDir, runKvedge, writeConfig } from './harness.mjs';
import {
    useSessionFixture, KEY, assertNoSessionHeaders, handleOf, keyOf, lastSeen, req, setCookies, startSessions,
} from './session_helpers.mjs';

let redis, app, client;
useSessionFixture((f) => ({ redis, app, client } = f));

async function withKvedge(session, fn) {
    const k = await startSessions(redis, app, session);
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

const post = (k, path, cookie, headers = {}) => req(k, path, cookie, headers, 'POST');

/** the number of EVALSHA/EVAL calls the store has seen (LOAD, CREATE, PATCH) */
async function scriptCalls() {
    const info = await client.info('commandstats');
    let n = 0;
    for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) n += Number(m[1]);
    return n;
}

async function loggedIn(k) {
    return handleOf(await req(k, '/app/login?u=u1', null));
}

test('issue 10 S13: a POST with the session cookie and Origin: https://evil.example is refused 403; neither the upstream nor the store is asked; the session is intact', async () => {
    await withKvedge({}, async (k) => {
        const h = await loggedIn(k);
        const seen = app.requests.length;
        const calls = await scriptCalls();
        const r = await post(k, '/app/set?j=%7B%22a%22%3A1%7D', h, { origin: 'https://evil.example' });
        assert.equal(r.status, 403);
        assert.match(r.body, /cross-site request refused/);
        assertNoSessionHeaders(r);
        assert.deepEqual(setCookies(r), [], 'no cookie set or cleared');
        assert.equal(app.requests.length, seen, 'the upstream was not called');
        assert.equal(await scriptCalls(), calls, 'no store round trip for a refused request');
        assert.equal((await client.hgetall(keyOf(h)))['d:a'], undefined);
        assert.match(lastSeen(app).url, /^\/login/, 'the last request the upstream saw is the login');
        // the same session, same origin: forwarded, active
        const ok = await post(k, '/app/echo', h, { origin: k.url });
        assert.equal(ok.status, 200);
        assert.equal(lastSeen(app).headers['x-session-status'], 'active');
        assert.match(k.stderr(), /an unsafe request from another origin was refused \(CSRF gate: Origin\)/);
        assert.ok(!k.stderr().includes(h), 'the cookie is not in the log');
    });
});

test('issue 10 S13: Sec-Fetch-Site: cross-site is refused (PUT, DELETE, PATCH too), and so is same-site (a sibling subdomain carries the Lax cookie); same-origin and none go on', async () => {
    await withKvedge({}, async (k) => {
        const h = await loggedIn(k);
        for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
            const r = await req(k, '/app/echo', h, { 'sec-fetch-site': 'cross-site' }, method);
            assert.equal(r.status, 403, method);
        }
        assert.equal((await post(k, '/app/echo', h, { 'sec-fetch-site': 'same-site' })).status, 403);
        assert.equal((await post(k, '/app/echo', h, { 'sec-fetch-site': 'cross-site', origin: k.url })).status, 403,
            'Fetch Metadata is believed before Origin');
        assert.equal((await post(k, '/app/echo', h, { 'sec-fetch-site': ['same-origin', 'cross-site'] })).status, 403, 'sent twice');
        assert.equal((await post(k, '/app/echo', h, { 'sec-fetch-site': 'bogus' })).status, 403);
        const n = app.requests.length;
        assert.equal((await post(k, '/app/echo', h, { 'sec-fetch-site': 'same-origin', origin: 'https://elsewhere.example' })).status, 200);
        assert.equal((await post(k, '/app/echo', h, { 'sec-fetch-site': 'none' })).status, 200);
        assert.equal(app.requests.length, n + 2);
        assert.match(k.stderr(), /CSRF gate: Sec-Fetch-Site/);
    });
});

test('issue 10 S13: Origin without Fetch Metadata: same origin (any case, default port) goes on; another host, port or scheme, "null" and two Origin headers are refused', async () => {
    await withKvedge({}, async (k) => {
        const h = await loggedIn(k);
        const port = k.port;
        for (const origin of [`http://127.0.0.1:${port}`, `HTTP://127.0.0.1:${port}`, `https://127.0.0.1:${port}`]) {
            assert.equal((await post(k, '/app/echo', h, { origin })).status, 200, origin);
        }
        for (const origin of ['https://evil.example', `http://127.0.0.2:${port}`, `http://127.0.0.1:${port + 1}`, 'http://127.0.0.1',
            'null', `http://127.0.0.1:${port}/path`, `http://user@127.0.0.1:${port}`, `ftp://127.0.0.1:${port}`, '', 'x'.repeat(5000)]) {
            assert.equal((await post(k, '/app/echo', h, { origin })).status, 403, origin.slice(0, 80));
        }
        assert.equal((await post(k, '/app/echo', h, { origin: [`http://127.0.0.1:${port}`, 'https://evil.example'] })).status, 403);
        assert.equal((await post(k, '/app/echo', h, { Origin: 'https://evil.example' })).status, 403, 'field names in any case');
        assert.equal((await post(k, '/app/echo', h, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
        // the request's Host is what "same origin" means
        assert.equal((await post(k, '/app/echo', h, { origin: 'https://app.example', host: 'APP.example:443' })).status, 200);
        assert.equal((await post(k, '/app/echo', h, { origin: 'http://app.example', host: 'app.example:80' })).status, 200);
    });
});

test('issue 10 S13: Referer is the fallback: a cross-origin Referer is refused, a same-origin one goes on; no Origin, Referer or Sec-Fetch-Site (not a browser) goes on', async () => {
    await withKvedge({}, async (k) => {
        const h = await loggedIn(k);
        assert.equal((await post(k, '/app/echo', h, { referer: 'https://evil.example/page?x=1' })).status, 403);
        assert.equal((await post(k, '/app/echo', h, { referer: 'android-app://com.evil/' })).status, 403);
        assert.equal((await post(k, '/app/echo', h, { referer: `${k.url}/app/form?x=1#f` })).status, 200);
        assert.equal((await post(k, '/app/echo', h, { referer: k.url })).status, 200);
        assert.equal((await post(k, '/app/echo', h, { origin: k.url, referer: 'https://evil.example/' })).status, 200,
            'Origin wins over Referer');
        assert.equal((await post(k, '/app/echo', h)).status, 200);
        assert.equal(lastSeen(app).headers['x-session-status'], 'active');
        assert.match(k.stderr(), /CSRF gate: Referer/);
    });
});

test('issue 10 S13: safe methods pass whatever their origin; an anonymous cross-site POST is refused too (no login CSRF: no session is created)', async () => {
    await withKvedge({}, async (k) => {
        const h = await loggedIn(k);
        for (const method of ['GET', 'HEAD', 'OPTIONS']) {
            const r = await req(k, '/app/echo', h, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, method);
            assert.equal(r.status, 200, method);
        }
        await client.flushall();
        const r = await post(k, '/app/login?u=attacker', null, { 'sec-fetch-site': 'cross-site' });
        assert.equal(r.status, 403);
        assert.deepEqual(setCookies(r), []);
        assert.deepEqual(await client.keys('*'), [], 'no session was created');
        // required routes answer 403 (not 401) before looking for a session
        assert.equal((await post(k, '/req/echo', null, { origin: 'https://evil.example' })).status, 403);
    });
});

test('issue 10 S13: csrf.origins lets listed origins in (normalised: case, default port), also from a sibling site; csrf: off turns the gate off', async () => {
    await withKvedge({ csrf: { origins: ['HTTPS://Partner.Example:443', 'http://localhost:8080'] } }, async (k) => {
        const h = await loggedIn(k);
        assert.equal((await post(k, '/app/echo', h, { origin: 'https://partner.example', 'sec-fetch-site': 'cross-site' })).status, 200);
        assert.equal((await post(k, '/app/echo', h, { origin: 'https://PARTNER.example:443', 'sec-fetch-site': 'same-site' })).status, 200);
        assert.equal((await post(k, '/app/echo', h, { referer: 'http://localhost:8080/x' })).status, 200);
        assert.equal((await post(k, '/app/echo', h, { origin: 'http://partner.example' })).status, 403, 'the scheme is part of the origin');
        assert.equal((await post(k, '/app/echo', h, { origin: 'https://partner.example:8443' })).status, 403);
        assert.equal((await post(k, '/app/echo', h, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status, 403);
    });
    await withKvedge({ csrf: false }, async (k) => {
        const h = await loggedIn(k);
        const r = await post(k, '/app/echo', h, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
        assert.equal(r.status, 200);
        assert.equal(lastSeen(app).headers['x-session-status'], 'active');
    });
});

test('issue 10 S13: configuration: csrf.origins must be origins (no path, http or https), csrf is per route (not in the top-level session:), --help-config documents it', async () => {
    const dir = makeTempDir();
    const route = (session, top = {}) => ({
        listen: [{ host: '127.0.0.1', port: 1 }], redis: redis.url, ...top,
        routes: [{ path: '/a', upstream: 'http://127.0.0.1:1/', session: { jwt_key: KEY, ...session } }],
    });
    for (const [i, bad] of ['https://a.example/path', 'ftp://a.example', 'null', '*', 'https://', 'a.example'].entries()) {
        const r = await runKvedge(['-t', '-c', writeConfig(route({ csrf: { origins: [bad] } }), { dir, name: `bad${i}.yaml` })]);
        assert.equal(r.code, 1, bad);
        assert.match(r.stderr, /csrf\.origins: ".*" is not an origin like https:\/\/app\.example/, bad);
    }
    const good = await runKvedge(['-t', '-c', writeConfig(route({ csrf: { origins: ['https://a.example', 'http://[::1]:8080'] } }), { dir, name: 'good.yaml' })]);
    assert.equal(good.stderr, '');
    assert.equal(good.code, 0);
    const off = await runKvedge(['-t', '-c', writeConfig(route({ csrf: false }), { dir, name: 'off.yaml' })]);
    assert.equal(off.code, 0, off.stderr);
    const top = await runKvedge(['-t', '-c', writeConfig(route({}, { session: { csrf: false } }), { dir, name: 'top.yaml' })]);
    assert.equal(top.code, 1);
    assert.match(top.stderr, /csrf/);
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /csrf/);
    assert.match(help.stdout, /origins/);
});
