// Issue 13, the web console's Sessions page, its HTTP API (handlers/console_sessions.c): the session routes' counters,
// a user's sessions (LIST on the user's slot), revoking one session by its public id or all of a user's, with the
// console's own checks (session, Origin, X-Console-CSRF, read-write) and the session middleware's own store commands.
// A real redis-server; the users log in through a session route whose upstream answers X-Session-Login (the recording
// upstream of session_helpers.mjs), and the upstream tells whether a cookie still names a session.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { assertCleanExit, http, startKvedge, startRedis, waitFor } from './harness.mjs';
import { startApp, startSessionKvedge, handleOf, keyOf, lastSeen, req, verifyJwt, KEY, STORE_MODE } from './session_helpers.mjs';

const ADMIN = 'console-sessions-admin-token-4c1f9e';
const READER = 'console-sessions-reader-token-77ab02';
/** The session store's name: the helpers move it onto kvedge's own /_kv when run with KVEDGE_SESSION_STORE=rest. */
const STORE = STORE_MODE === 'rest' ? 'sessions_rest' : 'default';

let redis, client, app, k;

/** kvedge with the console and two session routes on `redisUrl`: /app and /req share their sessions (one jwt_key). */
function config(redisUrl, session = {}) {
    const base = { jwt_key: KEY, store_timeout: '2s', ...session };
    return {
        threads: 2,
        redis: redisUrl,
        log: { level: 'debug', access_log: '-' },
        admin: { token: ADMIN, read_only_token: READER, console: { enabled: true, path: '/ui' } },
        routes: [
            { path: '/app', upstream: `${app.url}/`, session: { mode: 'optional', write: true, ...base } },
            { path: '/req', upstream: `${app.url}/`, session: { mode: 'required', write: true, ...base } },
        ],
    };
}

before(async () => {
    redis = await startRedis();
    client = redis.client();
    app = await startApp();
    k = await startSessionKvedge(config(redis.url));
});

after(async () => {
    if (k) assertCleanExit(await k.stop());
    await app?.stop();
    await redis?.stop();
});

beforeEach(async () => {
    await client.flushall();
    app.requests.length = 0;
});

/** A JSON text with every character outside printable ASCII as \uXXXX: a header value the upstream can send as is. */
const asciiJson = (v) => JSON.stringify(v).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Logs `uid` in through the session route (a new cookie each time, like a new browser); returns its handle. */
async function loginAs(uid, ua = 'test-agent/1.0') {
    const r = await req(k, `/app/raw?h=x-session-login&v=${encodeURIComponent(asciiJson({ sub: uid }))}`, null, { 'user-agent': ua });
    assert.equal(r.status, 200);
    return handleOf(r);
}

/** What the upstream sees for `handle`: {status, sub} (sub: the JWT's, null without a JWT). */
async function seenAs(handle) {
    const r = await req(k, '/app/echo', handle);
    assert.equal(r.status, 200);
    const h = lastSeen(app).headers;
    return { status: h['x-session-status'], sub: h['x-session-jwt'] ? verifyJwt(h['x-session-jwt']).sub : null };
}

/** A console login with `token`: {cookie, csrf}. */
async function consoleLogin(token = ADMIN) {
    const r = await http('POST', `${k.url}/ui/login`, {
        body: `token=${encodeURIComponent(token)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: k.url },
    });
    assert.equal(r.status, 303, r.body);
    const cookie = r.headers['set-cookie'][0].split(';')[0];
    const s = JSON.parse((await http('GET', `${k.url}/ui/api/session`, { headers: { cookie } })).body);
    return { cookie, csrf: s.csrf };
}

/** A console API POST with the session's CSRF token from the console's origin (`headers` override). */
function api(s, path, body, headers = {}) {
    return http('POST', `${k.url}/ui/api/sessions${path}`, {
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'content-type': 'application/json', origin: k.url, 'x-console-csrf': s.csrf, cookie: s.cookie, ...headers },
    });
}

async function list(s, user) {
    const r = await api(s, '/list', { user });
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body).sessions;
}

/** The summary's one group. */
async function summaryGroup(s) {
    const r = await http('GET', `${k.url}/ui/api/sessions`, { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200);
    return JSON.parse(r.body).groups[0];
}

test('issue 13 console sessions: active sessions: the distinct sessions with a request in the last 5 minutes, logged-in and anonymous apart (repeated requests count once; a login alone does not count)', async () => {
    const s = await consoleLogin();
    const before = (await summaryGroup(s)).active;
    assert.equal(before.window_s, 300);
    const a = await loginAs('active-1');
    const b = await loginAs('active-2');
    await loginAs('active-3'); // logged in, but no request with its cookie yet
    const anon = handleOf(await req(k, `/app/set?j=${encodeURIComponent('{"cart":1}')}`));
    for (const h of [a, b, a, a, b, anon, anon]) await seenAs(h);
    await req(k, '/req/echo', a); // the other route of the same sessions: still one session
    const after = (await summaryGroup(s)).active;
    // HyperLogLog with 1024 registers: a few sessions are counted (nearly) exactly; allow one register collision
    assert.ok(Math.abs(after.logged_in - before.logged_in - 2) <= 1 && after.logged_in - before.logged_in >= 1, `logged in ${JSON.stringify([before, after])}`);
    assert.ok(Math.abs(after.anonymous - before.anonymous - 1) <= 1 && after.anonymous - before.anonymous >= 1, `anonymous ${JSON.stringify([before, after])}`);
});

test('issue 13 console sessions: the summary names the session store and its routes, with the events counted since the start (no store access)', async () => {
    const s = await consoleLogin();
    await loginAs('counted-user');
    const r = await http('GET', `${k.url}/ui/api/sessions`, { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store');
    const body = JSON.parse(r.body);
    assert.equal(body.truncated, false);
    assert.equal(body.groups.length, 1, 'two routes with one jwt_key and store: one set of sessions');
    const [g] = body.groups;
    assert.equal(g.store, STORE);
    assert.deepEqual(g.routes.sort(), ['/app', '/req']);
    assert.ok(g.events.created >= 1, `created ${g.events.created}`);
    for (const e of ['created', 'loaded', 'rotated', 'expired', 'destroyed', 'refused', 'unavailable', 'cookie_invalid',
        'command_invalid', 'csrf_refused']) assert.equal(typeof g.events[e], 'number', e);
    // without a console session: 401
    assert.equal((await http('GET', `${k.url}/ui/api/sessions`)).status, 401);
});

test('issue 13 console sessions: a user\'s sessions are listed with public ids, times, user agent and address prefix; never a cookie value or a store key', async () => {
    const s = await consoleLogin();
    const t0 = Date.now();
    const a = await loginAs('alice', 'browser-a/1.0');
    const b = await loginAs('alice', 'browser-b/2.0');
    await loginAs('bob');
    const sessions = await list(s, 'alice');
    assert.equal(sessions.length, 2);
    assert.deepEqual(sessions.map((x) => x.ua).sort(), ['browser-a/1.0', 'browser-b/2.0']);
    for (const x of sessions) {
        assert.match(x.pid, /^[0-9a-f]{32}$/);
        assert.ok(x.created >= t0 - 1000 && x.created <= Date.now(), `created ${x.created}`);
        assert.ok(x.last_seen >= x.created, 'last seen');
        assert.ok(x.auth_time >= t0 - 1000, 'auth time');
        assert.equal(x.ip_prefix, '127.0.0.0/24');
        assert.equal(x.store, STORE);
        assert.deepEqual(x.routes.sort(), ['/app', '/req']);
    }
    // the public ids are the JWTs' sid: what the upstream knows the sessions by
    await req(k, '/app/echo', a);
    const sid = verifyJwt(lastSeen(app).headers['x-session-jwt']).sid;
    assert.ok(sessions.some((x) => x.pid === sid), 'the pid is the JWT\'s sid');
    // nothing of the cookie or the store key in the answer
    const raw = (await api(s, '/list', { user: 'alice' })).body;
    for (const h of [a, b]) {
        for (const secret of [h, h.slice(11), keyOf(h), keyOf(h).slice(-64)]) assert.ok(!raw.includes(secret), 'no cookie value or key in the listing');
    }
    assert.ok(!raw.includes('kvs1:'), 'no store key');
});

test('issue 13 console sessions: revoking one session by its public id makes its cookie anonymous (the upstream sees no JWT); the user\'s other session still works', async () => {
    const s = await consoleLogin();
    const a = await loginAs('carol', 'ua-a');
    const b = await loginAs('carol', 'ua-b');
    assert.deepEqual(await seenAs(a), { status: 'active', sub: 'carol' });
    const target = (await list(s, 'carol')).find((x) => x.ua === 'ua-a');
    const r = await api(s, '/revoke', { user: 'carol', pid: target.pid });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { revoked: 1 });
    assert.deepEqual(await seenAs(a), { status: 'anonymous', sub: null }, 'the revoked cookie is anonymous');
    assert.equal((await req(k, '/req/echo', a)).status, 401, 'and refused on the required route');
    assert.deepEqual(await seenAs(b), { status: 'active', sub: 'carol' }, 'the other session still works');
    assert.equal(await client.exists(keyOf(a)), 0, 'the session key is gone');
    assert.deepEqual((await list(s, 'carol')).map((x) => x.ua), ['ua-b'], 'and out of the listing');
    // the same pid again, or a pid of another user: 404, nothing ended
    assert.equal((await api(s, '/revoke', { user: 'carol', pid: target.pid })).status, 404);
    const dave = await loginAs('dave');
    const davePid = (await list(s, 'dave'))[0].pid;
    const cross = await api(s, '/revoke', { user: 'carol', pid: davePid });
    assert.equal(cross.status, 404, 'a pid is looked up among the named user\'s sessions only');
    assert.match(JSON.parse(cross.body).error, /no session of this user/);
    assert.equal((await seenAs(dave)).status, 'active');
});

test('issue 13 console sessions: revoke all ends every session of the user (both cookies anonymous, the index gone), not another user\'s', async () => {
    const s = await consoleLogin();
    const a = await loginAs('erin');
    const b = await loginAs('erin');
    const other = await loginAs('frank');
    const r = await api(s, '/revoke-all', { user: 'erin' });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { revoked: 2 });
    assert.equal((await seenAs(a)).status, 'anonymous');
    assert.equal((await seenAs(b)).status, 'anonymous');
    assert.deepEqual(await list(s, 'erin'), []);
    assert.deepEqual(await client.keys(`kvs1:{${a.slice(0, 11)}}:*`), [], 'no key left on the user\'s slot');
    assert.deepEqual(await seenAs(other), { status: 'active', sub: 'frank' });
    assert.deepEqual(JSON.parse((await api(s, '/revoke-all', { user: 'erin' })).body), { revoked: 0 }, 'again: nothing to end');
    // revocations count as the middleware's logouts: kvedge_session_total{event="destroyed"} (the summary and /metrics)
    const summary = JSON.parse((await http('GET', `${k.url}/ui/api/sessions`, { headers: { cookie: s.cookie } })).body);
    assert.ok(summary.groups[0].events.destroyed >= 2, `destroyed ${summary.groups[0].events.destroyed}`);
});

test('issue 13 console sessions: a read-only console session lists but may not revoke (403, nothing ended)', async () => {
    const ro = await consoleLogin(READER);
    const a = await loginAs('gina');
    const [x] = await list(ro, 'gina');
    for (const [path, body] of [['/revoke', { user: 'gina', pid: x.pid }], ['/revoke-all', { user: 'gina' }]]) {
        const r = await api(ro, path, body);
        assert.equal(r.status, 403, path);
        assert.match(JSON.parse(r.body).error, /read-only/);
    }
    assert.equal((await seenAs(a)).status, 'active');
});

test('issue 13 console sessions: another origin, no Origin, a missing or wrong X-Console-CSRF, a forged console cookie: refused, nothing ended', async () => {
    const s = await consoleLogin();
    const a = await loginAs('hank');
    const body = { user: 'hank' };
    const cases = [
        [{ origin: 'http://evil.example' }, 403, /Origin/],
        [{ origin: 'null' }, 403, /Origin/],
        [{ 'x-console-csrf': '' }, 403, /CSRF/],
        [{ 'x-console-csrf': 'a'.repeat(64) }, 403, /CSRF/],
        [{ cookie: `kvedge_console=${'b'.repeat(64)}` }, 401, /login/],
    ];
    for (const [headers, status, why] of cases) {
        const r = await api(s, '/revoke-all', body, headers);
        assert.equal(r.status, status, JSON.stringify(headers));
        assert.match(JSON.parse(r.body).error, why);
    }
    const noOrigin = await http('POST', `${k.url}/ui/api/sessions/revoke-all`, {
        body: JSON.stringify(body), headers: { 'x-console-csrf': s.csrf, cookie: s.cookie },
    });
    assert.equal(noOrigin.status, 403, 'neither Origin nor Referer');
    assert.equal((await http('GET', `${k.url}/ui/api/sessions/revoke-all`, { headers: { cookie: s.cookie } })).status, 405);
    assert.equal((await seenAs(a)).status, 'active', 'nothing was ended');
    // the listing is a POST too: the same checks
    assert.equal((await api(s, '/list', body, { origin: 'http://evil.example' })).status, 403);
});

test('issue 13 console sessions: a user id with odd bytes (quotes, markup, controls, U+2028, non-BMP) is listed and revoked exactly; an unknown user lists nothing', async () => {
    const s = await consoleLogin();
    const odd = 'ü "q" <b>&amp;</b>\t\\ \u2028 \u0001 😀 ' + "'; DROP";
    const near = odd.slice(0, -1);
    const a = await loginAs(odd);
    const c = await loginAs(near);
    assert.equal((await seenAs(a)).sub, odd);
    const sessions = await list(s, odd);
    assert.equal(sessions.length, 1);
    assert.deepEqual(await list(s, 'nobody-at-all'), []);
    assert.deepEqual(await list(s, odd.toUpperCase()), [], 'ids are bytes: no case folding');
    const r = await api(s, '/revoke', { user: odd, pid: sessions[0].pid });
    assert.equal(r.status, 200, r.body);
    assert.equal((await seenAs(a)).status, 'anonymous');
    assert.equal((await seenAs(c)).sub, near, 'the user whose id differs by one byte keeps its session');
    assert.equal((await api(s, '/revoke', { user: 'nobody', pid: '0'.repeat(32) })).status, 404);
});

test('issue 13 console sessions: bad bodies are 400 with a reason, too-large ones 413; nothing reaches the store', async () => {
    const s = await consoleLogin();
    const pid = '0123456789abcdef0123456789abcdef';
    const bad = [
        ['/list', '', /JSON object/],
        ['/list', 'not json', /not JSON/],
        ['/list', '["user"]', /JSON object/],
        ['/list', '{"user":"a","user":"b"}', /not JSON/],
        ['/list', { user: '' }, /1 to 256 bytes/],
        ['/list', { user: 'x'.repeat(257) }, /1 to 256 bytes/],
        ['/list', { user: 'é'.repeat(129) }, /1 to 256 bytes/], // 258 bytes of UTF-8
        ['/list', '{"user":"a\\u0000b"}', /U\+0000/],
        ['/list', { user: 5 }, /a string/],
        ['/list', { user: 'a', extra: 1 }, /only "user"/],
        ['/list', { user: 'a', pid }, /only "user"|not taken/],
        ['/revoke', { user: 'a' }, /pid: required|only/],
        ['/revoke', { user: 'a', pid: pid.toUpperCase() }, /pid: 32/],
        ['/revoke', { user: 'a', pid: pid.slice(1) }, /pid: 32/],
        ['/revoke', { user: 'a', pid: 7 }, /pid: 32/],
        ['/revoke-all', { user: 'a', pid }, /only "user"|not taken/],
    ];
    const before = (await client.info('commandstats')).match(/cmdstat_(evalsha|eval):calls=(\d+)/g)?.join() ?? '';
    for (const [path, body, why] of bad) {
        const r = await api(s, path, body);
        assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.body}`);
        assert.match(JSON.parse(r.body).error, why, `${path} ${JSON.stringify(body)}`);
    }
    assert.equal((await client.info('commandstats')).match(/cmdstat_(evalsha|eval):calls=(\d+)/g)?.join() ?? '', before, 'no script ran');
    assert.ok((await list(s, 'x'.repeat(256))).length === 0, '256 bytes is still taken');
    const big = await api(s, '/list', JSON.stringify({ user: 'a', pad: 'x'.repeat(3000) }));
    assert.equal(big.status, 413);
});

test('issue 13 console sessions: the session store down: 503 with a clear message (list, revoke, revoke all), slow or gone; answering again: works again', async () => {
    const own = await startRedis();
    const kd = await startSessionKvedge(config(own.url, { store_timeout: '300ms' }));
    const kk = k;
    try {
        k = kd;
        const s = await consoleLogin();
        await loginAs('ivan');
        assert.equal((await list(s, 'ivan')).length, 1);
        await own.kill('SIGSTOP'); // a store that does not answer: past store_timeout
        for (const [path, body] of [['/list', { user: 'ivan' }], ['/revoke', { user: 'ivan', pid: '0'.repeat(32) }], ['/revoke-all', { user: 'ivan' }]]) {
            const r = await api(s, path, body);
            assert.equal(r.status, 503, `${path}: ${r.body}`);
            assert.equal(JSON.parse(r.body).error, `session store "${STORE}" unavailable`);
        }
        await own.kill('SIGCONT');
        await waitFor(async () => (await api(s, '/list', { user: 'ivan' })).status === 200, { message: 'the listing works again once the store answers' });
        assert.equal((await list(s, 'ivan')).length, 1);
        await own.stop(); // a store that is gone
        const r = await api(s, '/list', { user: 'ivan' });
        assert.equal(r.status, 503, r.body);
        assert.equal(JSON.parse(r.body).error, `session store "${STORE}" unavailable`);
        assert.ok(kd.stderr().includes(`sessions: the session store ${STORE} failed or did not answer`), 'logged');
        // the summary needs no store
        assert.equal((await http('GET', `${kd.url}/ui/api/sessions`, { headers: { cookie: s.cookie } })).status, 200);
    } finally {
        k = kk;
        assertCleanExit(await kd.stop());
        await own.stop();
    }
});

test('issue 13 console sessions: without session routes the summary is empty and a listing finds nothing', async () => {
    const plain = await startKvedge({
        threads: 1,
        admin: { token: ADMIN, console: { enabled: true } },
        routes: [{ path: '/app', upstream: `${app.url}/` }],
    });
    const kk = k;
    try {
        k = plain;
        const s = await consoleLogin();
        assert.deepEqual(JSON.parse((await http('GET', `${k.url}/ui/api/sessions`, { headers: { cookie: s.cookie } })).body), { groups: [], truncated: false });
        assert.deepEqual(await list(s, 'anyone'), []);
        assert.equal((await api(s, '/revoke', { user: 'anyone', pid: '0'.repeat(32) })).status, 404);
    } finally {
        k = kk;
        assertCleanExit(await plain.stop());
    }
});

test('issue 13 console sessions: routes with another jwt_key are another set of sessions; a reload that adds one is seen at once; a listing and revoke-all cover every set', async () => {
    const own = await startSessionKvedge(config(redis.url));
    const kk = k;
    try {
        k = own;
        const s = await consoleLogin();
        const a = await loginAs('judy');
        const count = () => (own.stderr().match(/reload: configuration \d+ serving/g) ?? []).length;
        const before = count();
        const next = structuredClone(own.config);
        next.routes.push({ path: '/other', upstream: `${app.url}/`,
            session: { mode: 'optional', write: true, jwt_key: `${KEY}-other`, store_timeout: '2s', endpoint: '' } });
        fs.writeFileSync(own.configPath, JSON.stringify(next));
        process.kill(own.pid, 'SIGHUP');
        await waitFor(() => count() > before, { timeoutMs: 30_000, message: 'reloaded' });
        const summary = JSON.parse((await http('GET', `${k.url}/ui/api/sessions`, { headers: { cookie: s.cookie } })).body);
        assert.deepEqual(summary.groups.map((g) => g.routes.sort().join()).sort(), ['/app,/req', '/other']);
        const r = await req(k, `/other/raw?h=x-session-login&v=${encodeURIComponent(asciiJson({ sub: 'judy' }))}`);
        const b = handleOf(r);
        const listed = await list(s, 'judy');
        assert.deepEqual(listed.map((x) => x.routes.sort().join()).sort(), ['/app,/req', '/other'], 'one session in each set');
        assert.deepEqual(JSON.parse((await api(s, '/revoke-all', { user: 'judy' })).body), { revoked: 2 });
        assert.equal((await seenAs(a)).status, 'anonymous');
        assert.equal((await req(k, '/other/echo', b)).status, 200);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous', 'the other set\'s session ended too');
    } finally {
        k = kk;
        assertCleanExit(await own.stop());
    }
});
