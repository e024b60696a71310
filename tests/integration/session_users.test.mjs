// Issue 10, a user's sessions: the per-user index (kvs1:{T}:u:<uidhex>, a ZSET kept by CREATE and DESTROY),
// X-Session-Logout: all, max_sessions, and kvedge's own endpoints under session.endpoint (default /_session):
// POST /logout[?all=1], GET /list, DELETE /<pid>, GET /auth. Tests F9-F13 of the research note's §7, and the attacks
// on each endpoint: forged or unknown cookies, another user's pid, cross-site POST/DELETE, methods not allowed,
// oversized or unknown paths. A real redis-server and the recording upstream of session_helpers.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { assertCleanExit, http, makeTempDir, runKvedge, sleep, startRedis, writeConfig } from './harness.mjs';
import {
    useSessionFixture, withSessions, KEY, assertNoSessionHeaders, clears, handleOf, keyOf, lastSeen, req, setCookies, startSessions, verifyJwt,
} from './session_helpers.mjs';

let redis, app, client;
useSessionFixture((f) => ({ redis, app, client } = f));

const withKvedge = (session, fn, extra = {}) => withSessions(redis, app, session, fn, extra);

const login = (k, u, cookie) => req(k, `/app/login?u=${encodeURIComponent(u)}`, cookie);
const set = (k, obj, cookie) => req(k, `/app/set?j=${encodeURIComponent(JSON.stringify(obj))}`, cookie);
/** The user's index key on the slot of `handle`. */
const indexOf = (handle, uid) => `kvs1:{${handle.slice(0, 11)}}:u:${Buffer.from(uid).toString('hex')}`;
const hashOf = (handle) => keyOf(handle).slice(-64);
/** What the upstream sees for `handle` on the optional route: {status, claims}. */
async function seenAs(k, handle) {
    const r = await req(k, '/app/echo', handle);
    assert.equal(r.status, 200);
    const h = lastSeen(app).headers;
    return { status: h['x-session-status'], claims: h['x-session-jwt'] ? verifyJwt(h['x-session-jwt']) : null, r };
}
const same = (k) => ({ origin: k.url });
const post = (k, path, cookie, headers = same(k)) => req(k, path, cookie, headers, 'POST');
const del = (k, path, cookie, headers = same(k)) => req(k, path, cookie, headers, 'DELETE');
const noStore = (r) => assert.equal(r.headers['cache-control'], 'no-store');

test('issue 10 F1/F10: a login adds the session to its user\'s index (member: the key\'s hash, score: its absolute deadline, a TTL); two logins of one user share the slot; a new login from a logged-in session replaces its member', async () => {
    await withKvedge({ absolute: '1h' }, async (k) => {
        const before = Date.now();
        const a = handleOf(await login(k, 'ü1 with spaces'));
        const b = handleOf(await login(k, 'ü1 with spaces'));
        assert.equal(a.slice(0, 11), b.slice(0, 11), 'one user: one slot tag');
        const idx = indexOf(a, 'ü1 with spaces');
        const members = await client.zrange(idx, 0, -1, 'WITHSCORES');
        assert.deepEqual(members.filter((_, i) => i % 2 === 0).sort(), [hashOf(a), hashOf(b)].sort());
        for (let i = 1; i < members.length; i += 2) {
            const score = Number(members[i]);
            assert.ok(score >= before + 3_600_000 && score <= Date.now() + 3_600_000, `score ${score} is the absolute deadline`);
        }
        const pttl = await client.pttl(idx);
        assert.ok(pttl > 3_500_000 && pttl <= 3_600_000, `the index expires with its latest member: ${pttl}`);
        // a login from a logged-in session (another user) ends it and removes it from its user's index
        const c = handleOf(await login(k, 'u2', a));
        assert.deepEqual((await client.zrange(idx, 0, -1)), [hashOf(b)]);
        assert.equal(await client.zcard(indexOf(c, 'u2')), 1);
        assert.equal(await client.exists(keyOf(a)), 0);
    });
});

test('issue 10 F10: X-Session-Logout: all ends every session of the user (both jars anonymous, the index gone), not another user\'s; from an anonymous session it ends only that one', async () => {
    await withKvedge({}, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        const b = handleOf(await login(k, 'u1'));
        const other = handleOf(await login(k, 'u2'));
        const r = await req(k, '/app/logout?all', a);
        assert.equal(r.status, 200);
        assert.ok(clears(r), 'the cookie is cleared');
        assertNoSessionHeaders(r);
        assert.equal((await seenAs(k, a)).status, 'anonymous');
        assert.equal((await seenAs(k, b)).status, 'anonymous');
        assert.equal(await client.exists(indexOf(a, 'u1'), keyOf(a), keyOf(b)), 0);
        assert.equal((await seenAs(k, other)).claims.sub, 'u2', 'another user keeps its session');
        const anon = handleOf(await set(k, { x: 1 }));
        const r2 = await req(k, '/app/logout?all', anon);
        assert.ok(clears(r2));
        assert.equal(await client.exists(keyOf(anon)), 0);
        assert.equal((await seenAs(k, other)).status, 'active');
    });
});

test('issue 10 F9: POST /_session/logout (same origin) answers 204, clears the cookie, deletes the key and its index member; the old cookie is anonymous; ?all=1 ends every session of the user; without a session it is 204 too', async () => {
    await withKvedge({}, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        const b = handleOf(await login(k, 'u1'));
        const r = await post(k, '/_session/logout', a);
        assert.equal(r.status, 204);
        assert.ok(clears(r), `cleared with Max-Age=0: ${setCookies(r)}`);
        assert.equal(setCookies(r).length, 1);
        noStore(r);
        assertNoSessionHeaders(r);
        assert.equal(await client.exists(keyOf(a)), 0);
        assert.deepEqual(await client.zrange(indexOf(a, 'u1'), 0, -1), [hashOf(b)], 'only the ended member is removed');
        assert.equal((await seenAs(k, a)).status, 'anonymous');
        assert.equal((await seenAs(k, b)).status, 'active');
        const c = handleOf(await login(k, 'u1'));
        const all = await post(k, '/_session/logout?x=2&all=1', c, { 'sec-fetch-site': 'same-origin' });
        assert.equal(all.status, 204);
        assert.ok(clears(all));
        assert.deepEqual(await client.keys('*'), [], 'every session of u1 and the index are gone');
        const none = await post(k, '/_session/logout', null);
        assert.equal(none.status, 204);
        assert.ok(clears(none));
        assert.equal(app.requests.filter((q) => q.url.includes('_session')).length, 0, 'the upstream never sees the endpoint');
    });
});

test('issue 10 F11: GET /_session/list returns the user\'s live sessions, current on exactly one, pids equal to the JWTs\' sid, the login\'s User-Agent (cut, printable) and address prefix, never a cookie, a key or a hash', async () => {
    await withKvedge({}, async (k) => {
        const before = Date.now();
        const ua = `Mozilla/5.0 (t\u00e9st) ${'x'.repeat(200)}`;
        const a = handleOf(await req(k, '/app/login?u=u1', null, { 'user-agent': ua }));
        const b = handleOf(await req(k, '/app/login?u=u1', null, { 'user-agent': 'other' }));
        handleOf(await login(k, 'u2'));
        const r = await req(k, '/_session/list', a);
        assert.equal(r.status, 200);
        assert.match(r.headers['content-type'], /^application\/json/);
        noStore(r);
        const { sessions } = JSON.parse(r.body);
        assert.equal(sessions.length, 2);
        assert.equal(sessions.filter((s) => s.current).length, 1);
        const sidA = (await seenAs(k, a)).claims.sid, sidB = (await seenAs(k, b)).claims.sid;
        assert.equal(sessions.find((s) => s.current).pid, sidA);
        assert.deepEqual(sessions.map((s) => s.pid).sort(), [sidA, sidB].sort());
        for (const s of sessions) {
            assert.deepEqual(Object.keys(s).sort(), ['auth_time', 'created', 'current', 'ip_prefix', 'last_seen', 'pid', 'ua']);
            assert.ok(s.created >= before && s.created <= Date.now() && s.last_seen >= s.created && s.auth_time === s.created);
            assert.equal(s.ip_prefix, '127.0.0.0/24');
        }
        assert.equal(sessions.find((s) => s.current).ua, `Mozilla/5.0 (t?st) ${'x'.repeat(128 - 19)}`);
        assert.equal(sessions.find((s) => !s.current).ua, 'other');
        assert.equal((await client.hgetall(keyOf(a))).ua.length, 128);
        const anon = handleOf(await set(k, { x: 1 }));
        assert.equal((await client.hgetall(keyOf(anon))).ua, undefined, 'nothing kept for an anonymous session');
        for (const secret of [a, b, a.slice(11), b.slice(11), keyOf(a), keyOf(b), hashOf(a), hashOf(b)])
            assert.ok(!r.body.includes(secret), 'no cookie, key or hash in the listing');
        // a session that ended on its own (idle) drops out of the listing and the index
        await client.del(keyOf(b));
        const again = JSON.parse((await req(k, '/_session/list', a)).body).sessions;
        assert.deepEqual(again.map((s) => s.pid), [sidA]);
        assert.deepEqual(await client.zrange(indexOf(a, 'u1'), 0, -1), [hashOf(a)]);
        const head = await req(k, '/_session/list', a, {}, 'HEAD');
        assert.equal(head.status, 200);
    });
});

test('issue 10 F12: DELETE /_session/<pid> ends one of the caller\'s user\'s sessions (the caller\'s stays); another user\'s pid, an unknown or ended pid is 404 and changes nothing; its own pid clears its cookie', async () => {
    await withKvedge({}, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        const b = handleOf(await login(k, 'u1'));
        const v = handleOf(await login(k, 'u2'));
        const sidB = (await seenAs(k, b)).claims.sid, sidV = (await seenAs(k, v)).claims.sid, sidA = (await seenAs(k, a)).claims.sid;
        const foreign = await del(k, `/_session/${sidV}`, a);
        assert.equal(foreign.status, 404, 'another user\'s pid');
        assert.equal((await seenAs(k, v)).status, 'active');
        assert.equal((await del(k, `/_session/${'0'.repeat(32)}`, a)).status, 404, 'an unknown pid');
        const r = await del(k, `/_session/${sidB}`, a);
        assert.equal(r.status, 204);
        assert.deepEqual(setCookies(r), [], 'the caller\'s cookie stays');
        noStore(r);
        assert.equal((await seenAs(k, b)).status, 'anonymous');
        assert.equal((await seenAs(k, a)).status, 'active');
        assert.deepEqual(await client.zrange(indexOf(a, 'u1'), 0, -1), [hashOf(a)]);
        assert.equal((await del(k, `/_session/${sidB}`, a)).status, 404, 'an ended pid');
        const own = await del(k, `/_session/${sidA}`, a);
        assert.equal(own.status, 204);
        assert.ok(clears(own));
        assert.equal((await seenAs(k, a)).status, 'anonymous');
        assert.equal((await seenAs(k, v)).status, 'active', 'u2 untouched throughout');
    });
});

test('issue 10 F13: max_sessions=3: the 4th login ends the oldest session (ZCARD stays 3), the others stay', async () => {
    await withKvedge({ max_sessions: 3 }, async (k) => {
        const hs = [];
        for (let i = 0; i < 4; i++) hs.push(handleOf(await login(k, 'u1')));
        assert.equal(await client.zcard(indexOf(hs[0], 'u1')), 3);
        assert.equal(await client.exists(keyOf(hs[0])), 0);
        assert.equal((await seenAs(k, hs[0])).status, 'anonymous', 'the oldest ended');
        for (const h of hs.slice(1)) assert.equal((await seenAs(k, h)).status, 'active');
        handleOf(await login(k, 'u2'));
        assert.equal((await seenAs(k, hs[1])).status, 'active', 'another user\'s login evicts nothing of u1');
        // a session that ended on its own does not count
        await client.del(keyOf(hs[1]));
        hs.push(handleOf(await login(k, 'u1')));
        for (const h of [hs[2], hs[3], hs[4]]) assert.equal((await seenAs(k, h)).status, 'active');
        assert.equal(await client.zcard(indexOf(hs[0], 'u1')), 3);
    });
});

test('issue 10 F13: by default a user holds at most 100 sessions: the index (and each login\'s work on it) is bounded', async () => {
    await withKvedge({}, async (k) => {
        const first = handleOf(await login(k, 'u1'));
        for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 10 }, () => login(k, 'u1')));
        assert.equal(await client.zcard(indexOf(first, 'u1')), 100);
        assert.equal(await client.exists(keyOf(first)), 0, 'the oldest ended');
        const list = JSON.parse((await req(k, '/_session/list', handleOf(await login(k, 'u1')))).body).sessions;
        assert.equal(list.length, 100);
    });
});

test('issue 10: GET /_session/auth answers 204 with an X-Session-JWT the upstream verifies for a logged-in session; 401 without one (no cookie, unknown or malformed cookie, anonymous data-only session)', async () => {
    await withKvedge({}, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        for (const method of ['GET', 'HEAD', 'POST']) {
            const r = await req(k, '/_session/auth', a, {}, method);
            assert.equal(r.status, 204, method);
            const c = verifyJwt(r.headers['x-session-jwt']);
            assert.equal(c.sub, 'u1');
            assert.equal(c.aud, '/app', 'the route\'s audience');
            assert.equal(c.exp - c.iat, 60);
            noStore(r);
            assert.deepEqual(Object.keys(r.headers).filter((h) => /^x[-_]session/i.test(h)), ['x-session-jwt']);
        }
        const none = await req(k, '/_session/auth', null);
        assert.equal(none.status, 401);
        assert.equal(none.headers['x-session-jwt'], undefined);
        const forged = await req(k, '/_session/auth', crypto.randomBytes(40).toString('base64url').slice(0, 54));
        assert.equal(forged.status, 401);
        assert.ok(clears(forged), 'an unknown handle is cleared');
        assertNoSessionHeaders(forged);
        assert.equal((await req(k, '/_session/auth', 'x'.repeat(53))).status, 401);
        const anon = handleOf(await set(k, { x: 1 }));
        assert.equal((await req(k, '/_session/auth', anon)).status, 401);
        // a client-sent X-Session-JWT is never echoed
        const spoof = await req(k, '/_session/auth', null, { 'x-session-jwt': 'spoofed' });
        assert.equal(spoof.headers['x-session-jwt'], undefined);
    });
});

test('issue 10: endpoint attacks: a forged or unknown cookie ends, lists and revokes nothing; a cross-site POST or DELETE is 403 before any store access; methods not allowed are 405 with Allow; unknown and oversized paths are 404', async () => {
    await withKvedge({}, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        const b = handleOf(await login(k, 'u1'));
        const sidB = (await seenAs(k, b)).claims.sid;
        const keysBefore = (await client.keys('*')).sort();
        // forged: a well-formed handle with the user's slot tag but another secret
        const forged = a.slice(0, 11) + crypto.randomBytes(32).toString('base64url');
        const lo = await post(k, '/_session/logout?all=1', forged);
        assert.equal(lo.status, 204);
        assert.ok(clears(lo));
        assert.equal(setCookies(lo).length, 1, 'cleared once');
        assert.equal((await req(k, '/_session/list', forged)).status, 401);
        assert.equal((await del(k, `/_session/${sidB}`, forged)).status, 401);
        assert.equal((await del(k, `/_session/${sidB}`, `__Host-sid=${a}; __Host-sid=${b}`)).status, 401, 'a doubled cookie is no session');
        assert.deepEqual((await client.keys('*')).sort(), keysBefore, 'nothing changed in the store');
        // cross-site: refused before the session is even loaded
        const evals = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
        const n0 = await evals();
        for (const [m, p, h] of [
            ['POST', '/_session/logout', { origin: 'https://evil.example' }],
            ['POST', '/_session/logout?all=1', { 'sec-fetch-site': 'cross-site' }],
            ['POST', '/_session/logout', { 'sec-fetch-site': 'same-site' }],
            ['POST', '/_session/logout', { referer: 'https://evil.example/x' }],
            ['DELETE', `/_session/${sidB}`, { origin: 'null' }],
            ['DELETE', `/_session/${sidB}`, { origin: `${k.url}.evil.example` }],
        ]) {
            const r = await req(k, p, a, h, m);
            assert.equal(r.status, 403, `${m} ${p} ${JSON.stringify(h)}`);
            assert.deepEqual(setCookies(r), []);
        }
        assert.equal(await evals(), n0, 'no store access for a refused request');
        assert.deepEqual((await client.keys('*')).sort(), keysBefore);
        // methods
        for (const [m, p, allow] of [
            ['GET', '/_session/logout', 'POST'],
            ['DELETE', '/_session/logout', 'POST'],
            ['POST', '/_session/list', 'GET, HEAD'],
            ['DELETE', '/_session/list', 'GET, HEAD'],
            ['GET', `/_session/${sidB}`, 'DELETE'],
            ['POST', `/_session/${sidB}`, 'DELETE'],
        ]) {
            const r = await req(k, p, a, same(k), m);
            assert.equal(r.status, 405, `${m} ${p}`);
            assert.equal(r.headers.allow, allow);
        }
        // paths
        for (const p of ['/_session', '/_session/', '/_session/nope', `/_session/${sidB.toUpperCase()}`, `/_session/${sidB}0`,
            `/_session/logout/x`, `/_session/${'a'.repeat(5000)}`, '/_session/list%00']) {
            const r = await req(k, p, a, same(k), 'DELETE');
            assert.equal(r.status, 404, p.slice(0, 80));
        }
        assert.equal(await evals(), n0, 'no store access for an unknown path or method either');
        assert.equal((await seenAs(k, a)).status, 'active');
        assert.equal((await seenAs(k, b)).status, 'active');
        assert.equal(app.requests.filter((q) => q.url.includes('_session')).length, 0);
    });
});

test('issue 10: the store down: the endpoints answer 503 (logout still clears the cookie)', async () => {
    const own = await startRedis();
    const k = await startSessions(own, app, { store_timeout: '300ms' });
    let stopped = false;
    try {
        const a = handleOf(await login(k, 'u1'));
        await own.stop();
        stopped = true;
        const lo = await post(k, '/_session/logout', a);
        assert.equal(lo.status, 503);
        assert.ok(clears(lo));
        assert.equal((await req(k, '/_session/list', a)).status, 503);
        assert.equal((await req(k, '/_session/auth', a)).status, 503);
        assert.equal((await del(k, `/_session/${'0'.repeat(32)}`, a)).status, 503);
    } finally {
        assertCleanExit(await k.stop());
        if (!stopped) await own.stop();
    }
});

test('issue 10: configuration: session.endpoint ("" for none, not "/", not a served path), shared endpoints need the same cookie, key and store; max_sessions bounds; --help-config', async () => {
    const dir = makeTempDir();
    const cfg = (routes, extra = {}) => ({ listen: [{ host: '127.0.0.1', port: 1 }], redis: redis.url, routes, ...extra });
    const r = (path, session) => ({ path, upstream: 'http://127.0.0.1:1/', session: { jwt_key: KEY, ...session } });
    const check = async (name, config) => runKvedge(['-t', '-c', writeConfig(config, { dir, name })]);
    const ok = await check('ok.yaml', cfg([r('/a', {}), r('/b', { endpoint: '/_s2/' }), r('/c', { endpoint: '' })]));
    assert.equal(ok.stderr, '');
    assert.equal(ok.code, 0);
    const root = await check('root.yaml', cfg([r('/a', { endpoint: '/' })]));
    assert.equal(root.code, 1);
    assert.match(root.stderr, /endpoint must be a path below "\/"/);
    const rel = await check('rel.yaml', cfg([r('/a', { endpoint: '_session' })]));
    assert.equal(rel.code, 1);
    const clash = await check('clash.yaml', cfg([r('/a', {}), r('/b', { jwt_key: `${KEY}-other` })]));
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /routes\[1\]\.session\.endpoint "\/_session" is also routes\[0\]'s/);
    assert.doesNotMatch(clash.stderr, new RegExp(KEY), 'no key quoted');
    const served = await check('served.yaml', cfg([r('/a', {}), { path: '/_session', upstream: 'http://127.0.0.1:1/' }]));
    assert.equal(served.code, 1);
    assert.match(served.stderr, /is also served by/);
    for (const [i, n] of [0, 1001, -1].entries()) {
        const max = await check(`max${i}.yaml`, cfg([r('/a', { max_sessions: n })]));
        assert.equal(max.code, 1, `max_sessions: ${n}`);
        assert.match(max.stderr, /max_sessions/);
    }
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /max_sessions/);
    assert.match(help.stdout, /endpoint/);
});

test('issue 10: session.endpoint "" serves no endpoint; another path serves them there', async () => {
    await withKvedge({ endpoint: '/auth-x' }, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        assert.equal((await req(k, '/auth-x/auth', a)).status, 204);
        assert.equal((await req(k, '/_session/auth', a)).status, 404);
    });
    await withKvedge({ endpoint: '' }, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        assert.equal((await req(k, '/_session/auth', a)).status, 404);
    });
});

test('issue 10: the endpoints\' POST and DELETE are CSRF-checked even where the routes turned their gate off; the routes\' csrf.origins apply', async () => {
    await withKvedge({ csrf: { enabled: false, origins: ['https://partner.example'] } }, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        const viaRoute = await req(k, '/app/echo', a, { origin: 'https://evil.example' }, 'POST');
        assert.equal(viaRoute.status, 200, 'the route itself has no gate');
        const evil = await post(k, '/_session/logout', a, { origin: 'https://evil.example' });
        assert.equal(evil.status, 403);
        assert.equal((await seenAs(k, a)).status, 'active');
        const partner = await post(k, '/_session/logout', a, { origin: 'https://partner.example' });
        assert.equal(partner.status, 204);
        assert.equal((await seenAs(k, a)).status, 'anonymous');
    });
});

test('issue 10: clients that leave while an endpoint\'s store command is pending (logout, list, revoke) leave kvedge serving, and the commands still apply or are dropped cleanly', async () => {
    await withKvedge({}, async (k) => {
        const a = handleOf(await login(k, 'u1'));
        const b = handleOf(await login(k, 'u1'));
        const sidB = (await seenAs(k, b)).claims.sid;
        await client.call('CLIENT', 'PAUSE', '400', 'ALL');
        const gone = await Promise.allSettled([
            req(k, '/_session/list', a, {}, 'GET').then(() => 'answered'),
            http('DELETE', `${k.url}/_session/${sidB}`, { headers: { cookie: `__Host-sid=${a}`, origin: k.url }, timeoutMs: 100 }),
            http('POST', `${k.url}/_session/logout`, { headers: { cookie: `__Host-sid=${b}`, origin: k.url }, timeoutMs: 100 }),
            http('GET', `${k.url}/_session/auth`, { headers: { cookie: `__Host-sid=${a}` }, timeoutMs: 100 }),
        ]);
        assert.equal(gone[0].status, 'fulfilled', 'a patient client gets its answer after the pause');
        assert.ok(gone.slice(1).every((g) => g.status === 'rejected'), 'the others left');
        await sleep(500);
        const r = await req(k, '/_session/list', a);
        assert.equal(r.status, 200);
        assert.ok(JSON.parse(r.body).sessions.length <= 2);
        assert.equal((await seenAs(k, a)).status, 'active');
    });
});
