// Issue 10, the session middleware's first slice, end to end: a real redis-server and a recording upstream that
// emits X-Session-* commands and verifies the JWT with node's crypto. The cookie and its attributes, the session in
// the store under a hash of the handle (with its TTL), the JWT, stripping both ways, Set / Login / Logout, fixation,
// unknown and malformed handles, idle and absolute timeouts, required routes, the store down, the configuration.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { assertCleanExit, makeTempDir, runKvedge, sleep, startRedis, writeConfig } from './harness.mjs';
import {
    useSessionFixture, withSessions, KEY, assertNoSessionHeaders, clears, handleOf, keyOf, lastSeen, req, setCookies, startSessions, verifyJwt,
} from './session_helpers.mjs';

let redis, app, client;
useSessionFixture((f) => ({ redis, app, client } = f));

const withKvedge = (session, fn, extra = {}) => withSessions(redis, app, session, fn, extra);

const login = (k, u, cookie, d) => req(k, `/app/login?u=${encodeURIComponent(u)}${d ? `&d=${encodeURIComponent(JSON.stringify(d))}` : ''}`, cookie);
const set = (k, obj, cookie, route = '/app') => req(k, `${route}/set?j=${encodeURIComponent(JSON.stringify(obj))}`, cookie);

test('issue 10: a login sets one __Host- cookie (54 base64url chars, Secure, HttpOnly, SameSite=Lax, no Domain/Max-Age), no-store, and the session is stored under a hash of it with a TTL', async () => {
    await withKvedge({ idle: '10m' }, async (k) => {
        const r = await login(k, 'u1', null, { role: 'user' });
        assert.equal(r.status, 200);
        const h = handleOf(r);
        assert.equal(r.headers['cache-control'], 'no-store', 'the upstream\'s public caching is replaced');
        assertNoSessionHeaders(r);
        const keys = await client.keys('*:s:*');
        assert.deepEqual(keys, [keyOf(h)], 'one session key, named by the hash of the handle, never the handle');
        const s = await client.hgetall(keyOf(h));
        assert.equal(s.uid, 'u1');
        assert.equal(s['d:role'], '"user"');
        const pttl = await client.pttl(keyOf(h));
        assert.ok(pttl > 0 && pttl <= 600_000, `PTTL ${pttl}`);
        assert.ok(!JSON.stringify(s).includes(h.slice(11)), 'the secret is not in the store');
    });
});

test('issue 10: the next request carries an HS256 X-Session-JWT the upstream verifies (aud, sub, exp - iat = 60, sid neither cookie nor key); the cookie pair is not forwarded', async () => {
    await withKvedge({}, async (k) => {
        const h = handleOf(await login(k, 'u1', null, { cart: [1, 2] }));
        const r = await req(k, '/app/echo', `a=1; __Host-sid=${h}; b=2`);
        assert.equal(r.status, 200);
        assert.deepEqual(setCookies(r), [], 'a read sets no cookie');
        const seen = lastSeen(app).headers;
        assert.equal(seen['x-session-status'], 'active');
        const c = verifyJwt(seen['x-session-jwt']);
        assert.equal(c.iss, 'kvedge');
        assert.equal(c.aud, '/app');
        assert.equal(c.sub, 'u1');
        assert.equal(c.exp - c.iat, 60);
        assert.ok(Math.abs(c.iat - Date.now() / 1000) < 10);
        assert.deepEqual(c.data, { cart: [1, 2] });
        assert.equal(c.sver, 1);
        assert.match(c.sid, /^[0-9a-f]{32}$/);
        assert.ok(!h.includes(c.sid) && !keyOf(h).includes(c.sid));
        assert.equal(seen.cookie, 'a=1; b=2', 'the session cookie pair is removed, the others kept');
        // the token does not verify with another key
        assert.throws(() => verifyJwt(seen['x-session-jwt'], 'another key, 32 bytes or longer......'));
    });
});

test('issue 10: client-sent copies of every X-Session-* header (any case, underscores) never reach the upstream; upstream X-Session-* never reach the client', async () => {
    await withKvedge({}, async (k) => {
        const spoof = { 'X-Session-JWT': 'forged', 'X-Session-User': 'admin', 'X-Session-Status': 'active', 'X-Session-Login': '{"sub":"admin"}',
            'x-session-id': '1' };
        const r = await req(k, '/app/echo', null, spoof);
        assert.equal(r.status, 200);
        const seen = lastSeen(app).headers;
        assert.equal(seen['x-session-status'], 'anonymous', 'only kvedge\'s own status');
        for (const name of ['x-session-jwt', 'x-session-user', 'x-session-login', 'x-session-id']) assert.equal(seen[name], undefined, name);
        // underscores: sent raw, since node's client would refuse nothing here but some servers map _ to -
        const raw = await req(k, '/app/echo', null, { 'X_Session_User': 'admin' });
        assert.equal(raw.status, 200);
        assert.equal(lastSeen(app).headers.x_session_user, undefined);
        // an upstream header of kvedge's namespace that is no command, on a route without write too
        for (const route of ['/app', '/ro']) {
            const out = await req(k, `${route}/raw?h=X-Session-Whatever&v=1`);
            assertNoSessionHeaders(out);
        }
        assertNoSessionHeaders(await login(k, 'u1'));
    });
});

test('issue 10: X-Session-Set merges per key, null deletes, sver counts every write; without a session it creates one under a fresh handle', async () => {
    await withKvedge({}, async (k) => {
        const first = await set(k, { a: 1 });
        const h = handleOf(first); // lazily created anonymous session
        assert.equal(first.headers['cache-control'], 'no-store');
        assert.deepEqual(setCookies(await set(k, { b: { x: 2 } }, h)), [], 'a write to an existing session sets no cookie');
        await set(k, { a: null }, h);
        await req(k, '/app/echo', h);
        const c = verifyJwt(lastSeen(app).headers['x-session-jwt']);
        assert.deepEqual(c.data, { b: { x: 2 } });
        assert.equal(c.sver, 3);
        assert.equal(c.sub, undefined, 'anonymous');
        // data keys are data: a key named uid never becomes the session's user
        await set(k, { uid: 'admin', sub: 'admin' }, h);
        await req(k, '/app/echo', h);
        const c2 = verifyJwt(lastSeen(app).headers['x-session-jwt']);
        assert.equal(c2.sub, undefined);
        assert.equal((await client.hgetall(keyOf(h))).uid, undefined);
    });
});

test('issue 10: fixation: an anonymous handle planted in the victim\'s jar is replaced at login and deleted from the store', async () => {
    await withKvedge({}, async (k) => {
        const planted = handleOf(await set(k, { x: 1 }));
        assert.equal(await client.exists(keyOf(planted)), 1);
        const victim = handleOf(await login(k, 'victim', planted));
        assert.notEqual(victim, planted);
        assert.equal(await client.exists(keyOf(planted)), 0, 'the planted session is gone');
        const r = await req(k, '/app/echo', planted);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous');
        assert.ok(clears(r), 'the dead handle is cleared');
        // every session of one user shares a slot tag; an anonymous one has its own
        const again = handleOf(await login(k, 'victim'));
        assert.equal(again.slice(0, 11), victim.slice(0, 11));
        assert.notEqual(planted.slice(0, 11), victim.slice(0, 11));
    });
});

test('issue 10: an unknown well-formed handle is never adopted: anonymous, cleared, and a write under it gets a fresh handle; malformed or doubled cookies are not even looked up', async () => {
    await withKvedge({}, async (k) => {
        const invented = crypto.randomBytes(40).toString('base64url').slice(0, 54);
        const r = await req(k, '/app/echo', invented);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous');
        assert.ok(clears(r));
        const w = await set(k, { a: 1 }, invented);
        const fresh = handleOf(w);
        assert.notEqual(fresh, invented);
        assert.equal(await client.exists(keyOf(invented)), 0, 'no key is ever created for the invented handle');
        // the storage key's hash presented as a cookie is just another unknown value
        const asKey = keyOf(fresh).slice(-54);
        await req(k, '/app/echo', asKey);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous');
        // malformed shapes and doubled pairs: no store lookup at all
        const before = await evalCalls();
        for (const bad of [fresh.slice(0, 53), `${fresh}A`, `${fresh.slice(0, 53)}!`, 'x'.repeat(10240), `__Host-sid=${fresh}; __Host-sid=${fresh}`]) {
            const out = await req(k, '/app/echo', bad);
            assert.ok(out.status < 500, `status ${out.status}`);
            assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous');
            assert.ok(clears(out));
        }
        assert.equal(await evalCalls(), before, 'no script ran for a malformed cookie');
    });
});

async function evalCalls() {
    const info = await client.info('commandstats');
    let n = 0;
    for (const m of info.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)) n += Number(m[2]);
    return n;
}

test('issue 10: idle and absolute timeouts are enforced server side', async () => {
    await withKvedge({ idle: '1s', absolute: '1h', touch_threshold: '0s' }, async (k) => {
        const h = handleOf(await login(k, 'u1'));
        await sleep(400);
        await req(k, '/app/echo', h); // a touch: the idle TTL starts again
        assert.equal(lastSeen(app).headers['x-session-status'], 'active');
        await sleep(1500);
        const r = await req(k, '/app/echo', h);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous');
        assert.ok(clears(r));
        assert.equal(await client.exists(keyOf(h)), 0);
    });
    await withKvedge({ idle: '10s', absolute: '3s', touch_threshold: '0s' }, async (k) => {
        const h = handleOf(await login(k, 'u1'));
        for (let i = 0; i < 3; ++i) {
            await sleep(500);
            await req(k, '/app/echo', h);
            assert.equal(lastSeen(app).headers['x-session-status'], 'active', `request ${i}`);
        }
        await sleep(1700);
        await req(k, '/app/echo', h);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous', 'past the absolute deadline, though used');
        assert.equal(await client.exists(keyOf(h)), 0);
    });
});

test('issue 10: X-Session-Logout deletes the session and clears the cookie; the old handle is anonymous afterwards', async () => {
    await withKvedge({}, async (k) => {
        const h = handleOf(await login(k, 'u1'));
        const r = await req(k, '/app/logout', h);
        assert.equal(r.status, 200);
        assert.ok(clears(r));
        assert.equal(r.headers['cache-control'], 'no-store');
        assertNoSessionHeaders(r);
        assert.equal(await client.exists(keyOf(h)), 0);
        await req(k, '/app/echo', h);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous');
    });
});

test('issue 10: a required route answers 401 without a session and never calls the upstream; commands from a route without write are stripped and ignored', async () => {
    await withKvedge({}, async (k) => {
        const r = await req(k, '/req/echo');
        assert.equal(r.status, 401);
        assert.equal(app.requests.length, 0);
        const h = handleOf(await login(k, 'u1'));
        const ok = await req(k, '/req/echo', h);
        assert.equal(ok.status, 200);
        assert.equal(lastSeen(app).headers['x-session-status'], 'active');
        assert.equal(verifyJwt(lastSeen(app).headers['x-session-jwt']).aud, '/req');
        const ro = await req(k, '/ro/login?u=admin', h);
        assert.equal(ro.status, 200);
        assert.deepEqual(setCookies(ro), []);
        assertNoSessionHeaders(ro);
        assert.equal((await client.keys('*:s:*')).length, 1, 'no session was created by a route without write');
        // malformed commands: stripped, no effect
        for (const [name, v] of [['x-session-login', '{"sub":'], ['x-session-login', '{"sub":"a","admin":true}'], ['x-session-set', '[1]'],
            ['x-session-logout', 'everything']]) {
            const out = await req(k, `/app/raw?h=${name}&v=${encodeURIComponent(v)}`, h);
            assert.equal(out.status, 200);
            assert.deepEqual(setCookies(out), [], `${name}: ${v}`);
            assertNoSessionHeaders(out);
        }
        assert.equal(await client.exists(keyOf(h)), 1);
    });
});

test('issue 10: the store down: a required route answers 503 without calling the upstream, an optional one forwards anonymous marked unavailable, a login answers 503 without a cookie', async () => {
    const own = await startRedis();
    const k = await startSessions(own, app, { store_timeout: '300ms' });
    let stopped = false;
    try {
        const h = handleOf(await login(k, 'u1'));
        await own.stop();
        stopped = true;
        app.requests.length = 0;
        const r = await req(k, '/req/echo', h);
        assert.equal(r.status, 503);
        assert.equal(app.requests.length, 0);
        const o = await req(k, '/app/echo', h);
        assert.equal(o.status, 200);
        assert.equal(lastSeen(app).headers['x-session-status'], 'unavailable');
        assert.equal(lastSeen(app).headers['x-session-jwt'], undefined, 'client data is never trusted instead');
        const l = await login(k, 'u2');
        assert.equal(l.status, 503);
        assert.deepEqual(setCookies(l), []);
        assertNoSessionHeaders(l);
    } finally {
        assertCleanExit(await k.stop());
        if (!stopped) await own.stop();
    }
});

test('issue 10: configuration: jwt_key of 32 bytes or more, a __Host- cookie needs secure, session with cache on one route accepted, inheritance from the top-level session:, --help-config', async () => {
    const dir = makeTempDir();
    const route = (session, extra = {}) => ({ listen: [{ host: '127.0.0.1', port: 1 }], redis: redis.url, routes: [{ path: '/a', upstream: 'http://127.0.0.1:1/', session, ...extra }] });
    const short = await runKvedge(['-t', '-c', writeConfig(route({ mode: 'required', jwt_key: 'short' }), { dir, name: 'a.yaml' })]);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /jwt_key must be at least 32 bytes/);
    assert.doesNotMatch(short.stderr, /jwt_key: short/, 'a secret is never quoted');
    const insecure = await runKvedge(['-t', '-c', writeConfig(route({ jwt_key: KEY, secure: false }), { dir, name: 'b.yaml' })]);
    assert.equal(insecure.code, 1);
    assert.match(insecure.stderr, /secure: false is not allowed/);
    const both = await runKvedge(['-t', '-c', writeConfig(route({ jwt_key: KEY }, { cache: {} }), { dir, name: 'c.yaml' })]);
    assert.equal(both.code, 0, `session: and cache: on one route work together (session_cache.test.mjs): ${both.stderr}`);
    const inherited = await runKvedge(['-t', '-c', writeConfig({ ...route('required'), session: { jwt_key: KEY } }, { dir, name: 'd.yaml' })]);
    assert.equal(inherited.stderr, '');
    assert.equal(inherited.code, 0);
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /session/);
    assert.match(help.stdout, /jwt_key/);
});
