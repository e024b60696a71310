// Issue 10, the optional login carry-over (docs/sessions.md §7, `session.login_carry`), end to end on a real
// redis-server (and, through session_helpers, on the KV REST driver): a Login from an ANONYMOUS session copies the
// route's listed data keys (["*"]: all) of the old session into the new one, the Login's own data winning on a clash;
// the old handle is still destroyed first; a logged-in session (a user switch) carries nothing; carried keys that
// would take the session past max_data are dropped (logged) and the login still happens; the data comes from the
// request's own LOAD (no extra store round trip).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, makeTempDir, runKvedge, writeConfig } from './harness.mjs';
import {
    useSessionFixture, KEY, handleOf, keyOf, lastSeen, req, startSessions, verifyJwt,
} from './session_helpers.mjs';

let redis, app, client;
useSessionFixture((f) => ({ redis, app, client } = f));

async function withKvedge(session, fn) {
    const k = await startSessions(redis, app, session);
    let result;
    try {
        await fn(k);
    } finally {
        result = await k.stop();
        assertCleanExit(result);
    }
    return result;
}

const q = (o) => encodeURIComponent(JSON.stringify(o));

/** An anonymous session holding `data` (X-Session-Set without a session): its handle. */
async function anonymous(k, data) {
    const h = handleOf(await req(k, `/app/set?j=${q(data)}`));
    assert.equal((await client.hgetall(keyOf(h))).uid, undefined, 'an anonymous session');
    return h;
}

/** A Login of `sub` (with `data`) on the session `h`: the new handle. */
async function login(k, h, sub, data) {
    const r = await req(k, `/app/login?u=${sub}${data ? `&d=${q(data)}` : ''}`, h);
    assert.equal(r.status, 200, r.body);
    return handleOf(r);
}

/** The data claim the upstream sees with the session `h`. */
async function dataOf(k, h) {
    const r = await req(k, '/app/echo', h);
    assert.equal(r.status, 200);
    assert.equal(lastSeen(app).headers['x-session-status'], 'active');
    return verifyJwt(lastSeen(app).headers['x-session-jwt']).data;
}

test('issue 10: login carry-over copies the listed data keys of an anonymous session into the new one; the old handle is destroyed', async () => {
    await withKvedge({ login_carry: ['cart', 'lang'] }, async (k) => {
        const h = await anonymous(k, { cart: [1, 2], theme: 'dark', lang: 'fi' });
        const n = await login(k, h, 'alice', { plan: 'pro' });
        assert.notEqual(n, h);
        assert.equal(await client.exists(keyOf(h)), 0, 'the anonymous session is gone (fixation defence)');
        const s = await client.hgetall(keyOf(n));
        assert.equal(s.uid, 'alice');
        assert.deepEqual(await dataOf(k, n), { cart: [1, 2], lang: 'fi', plan: 'pro' }, 'theme is not listed: not carried');
        assert.equal((await req(k, '/app/echo', h)).status, 200);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous', 'the old handle names no session');
    });
});

test('issue 10: login carry-over: the Login\'s own data wins on a clash; ["*"] carries every key; a Login without data carries', async () => {
    await withKvedge({ login_carry: ['*'] }, async (k) => {
        const h = await anonymous(k, { cart: [1], theme: 'dark', n: 5 });
        const n = await login(k, h, 'bob', { cart: ['mine'] });
        assert.deepEqual(await dataOf(k, n), { cart: ['mine'], theme: 'dark', n: 5 });
        const h2 = await anonymous(k, { x: { deep: true } });
        assert.deepEqual(await dataOf(k, await login(k, h2, 'carol')), { x: { deep: true } });
    });
});

test('issue 10: login carry-over is off by default: a Login from an anonymous session starts with the Login\'s data only', async () => {
    await withKvedge({}, async (k) => {
        const h = await anonymous(k, { cart: [1, 2] });
        assert.deepEqual(await dataOf(k, await login(k, h, 'alice', { plan: 'pro' })), { plan: 'pro' });
    });
});

test('issue 10: login carry-over never carries from a logged-in session (a user switch carries nothing)', async () => {
    await withKvedge({ login_carry: ['*'] }, async (k) => {
        const h = await anonymous(k, { cart: [1] });
        const a = await login(k, h, 'alice', { secret: 'alice-only' });
        assert.deepEqual(await dataOf(k, a), { cart: [1], secret: 'alice-only' });
        const b = await login(k, a, 'mallory');
        assert.equal(await client.exists(keyOf(a)), 0);
        const d = await dataOf(k, b);
        assert.ok(d === undefined || Object.keys(d).length === 0, `nothing carried to the other user: ${JSON.stringify(d)}`);
        // the same user logging in again carries nothing either: only anonymous sessions carry
        const a2 = await login(k, b, 'mallory', { z: 1 });
        assert.deepEqual(await dataOf(k, a2), { z: 1 });
    });
});

test('issue 10: login carry-over past max_data drops the carried keys (logged) and the login still happens', async () => {
    const big = 'x'.repeat(40);
    const result = await withKvedge({ login_carry: ['*'], max_data: 64 }, async (k) => {
        const h = await anonymous(k, { cart: big }); // 4 + 42 bytes
        const n = await login(k, h, 'alice', { plan: 'pro-plan-with-a-long-name' }); // 4 + 27 bytes: 77 with the cart
        assert.equal(await client.exists(keyOf(h)), 0);
        assert.equal((await client.hgetall(keyOf(n))).uid, 'alice');
        assert.deepEqual(await dataOf(k, n), { plan: 'pro-plan-with-a-long-name' });
        // under the limit the same carry applies
        const h2 = await anonymous(k, { cart: 'small' });
        assert.deepEqual(await dataOf(k, await login(k, h2, 'bob', { plan: 'p' })), { cart: 'small', plan: 'p' });
    });
    assert.match(`${result.stdout}\n${result.stderr}`, /login_carry: the carried data.*dropped/);
});

test('issue 10: login carry-over takes the data from the request\'s own LOAD (no extra store round trip)', async () => {
    await withKvedge({ login_carry: ['cart'] }, async (k) => {
        await login(k, await anonymous(k, { cart: 1 }), 'warm'); // every script loaded once
        const h = await anonymous(k, { cart: [7] });
        await client.config('RESETSTAT');
        const n = await login(k, h, 'alice');
        const stats = await client.info('commandstats');
        const calls = (cmd) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
        assert.equal(calls('hgetall'), 1, `one HGETALL (LOAD's): ${stats}`);
        assert.equal(calls('evalsha') + calls('eval'), 3, `LOAD, DESTROY, CREATE: ${stats}`);
        assert.deepEqual(await dataOf(k, n), { cart: [7] });
    });
});

test('issue 10: login carry-over: the configuration refuses a bad key list; --help-config lists login_carry', async () => {
    const dir = makeTempDir();
    const route = (session) => ({ listen: [{ host: '127.0.0.1', port: 1 }], redis: redis.url, routes: [{ path: '/a', upstream: 'http://127.0.0.1:1/', session: { jwt_key: KEY, write: true, ...session } }] });
    const ok = await runKvedge(['-t', '-c', writeConfig(route({ login_carry: ['cart', 'lang'] }), { dir, name: 'a.yaml' })]);
    assert.equal(ok.code, 0, ok.stderr);
    for (const [name, list] of [['b', ['']], ['c', ['*', 'cart']], ['d', ['k'.repeat(129)]]]) {
        const bad = await runKvedge(['-t', '-c', writeConfig(route({ login_carry: list }), { dir, name: `${name}.yaml` })]);
        assert.equal(bad.code, 1, `${JSON.stringify(list)} is refused`);
        assert.match(bad.stderr, /login_carry/);
    }
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /login_carry/);
});
