// Issue 10, the sessions in /metrics (docs/sessions.md §15): kvedge_session_total{route,event} for every event of every
// session route (zeros included): created, loaded, rotated, expired, destroyed, refused, unavailable, cookie_invalid,
// command_invalid, csrf_refused, each counted once where it happens. A real redis-server and the recording upstream.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, freePort, http, startRedis } from './harness.mjs';
import { handleOf, req, startApp, startSessions } from './session_helpers.mjs';

const ADMIN = 'admin-token-0123456789abcdef';
const EVENTS = ['created', 'loaded', 'rotated', 'expired', 'destroyed', 'refused', 'unavailable', 'cookie_invalid', 'command_invalid',
    'csrf_refused'];

let redis, app, client;

before(async () => {
    redis = await startRedis();
    app = await startApp();
    client = redis.client();
});

after(async () => {
    await app?.stop();
    await redis?.stop();
});

beforeEach(async () => {
    await client.flushall();
});

/** every kvedge_session_total series of `text`: {"<route> <event>": n} */
function sessionSeries(text) {
    const out = {};
    for (const m of text.matchAll(/^kvedge_session_total\{route="([^"]*)",event="([^"]*)"\} (\d+)$/gm)) out[`${m[1]} ${m[2]}`] = Number(m[3]);
    return out;
}

async function metrics(k) {
    const r = await http('GET', `${k.adminUrl}metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200);
    return r.body;
}

/** the events of `route` that changed between two snapshots */
function changed(before, now, route) {
    const out = {};
    for (const e of EVENTS) {
        const d = now[`${route} ${e}`] - before[`${route} ${e}`];
        if (d !== 0) out[e] = d;
    }
    return out;
}

test('issue 10 §15: /metrics has kvedge_session_total{route,event} for every event of every session route, zeros included, and nothing for other routes', async () => {
    const k = await startSessions(redis, app, {}, { admin: { token: ADMIN } });
    try {
        const text = await metrics(k);
        assert.match(text, /^# TYPE kvedge_session_total counter$/m);
        const s = sessionSeries(text);
        for (const route of ['proxy:/app', 'proxy:/req', 'proxy:/ro'])
            for (const e of EVENTS) assert.equal(s[`${route} ${e}`], 0, `${route} ${e}`);
        assert.equal(Object.keys(s).length, 3 * EVENTS.length, 'no other series');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 10 §15: each event is counted once where it happens: login/lazy Set created, a read loaded, logout destroyed, unknown handle expired, malformed cookie, bad command, command without write, 401, cross-site POST', async () => {
    const k = await startSessions(redis, app, {}, { admin: { token: ADMIN } });
    try {
        let last = sessionSeries(await metrics(k));
        const step = async (what, fn, route, want) => {
            await fn();
            const now = sessionSeries(await metrics(k));
            assert.deepEqual(changed(last, now, route), want, what);
            last = now;
        };
        let h;
        await step('login', async () => { h = handleOf(await req(k, '/app/login?u=u1', null)); }, 'proxy:/app', { created: 1 });
        await step('a read with the cookie', () => req(k, '/app/echo', h), 'proxy:/app', { loaded: 1 });
        await step('a Set on the session', () => req(k, '/app/set?j=%7B%22a%22%3A1%7D', h), 'proxy:/app', { loaded: 1 });
        await step('a lazy Set (new anonymous session)', () => req(k, '/app/set?j=%7B%22a%22%3A1%7D', null), 'proxy:/app', { created: 1 });
        await step('a malformed cookie', () => req(k, '/app/echo', 'short'), 'proxy:/app', { cookie_invalid: 1 });
        await step('an unknown well-formed handle', () => req(k, '/app/echo', 'A'.repeat(54)), 'proxy:/app', { expired: 1 });
        await step('an unknown X-Session-* field', () => req(k, '/app/raw?h=x-session-bogus&v=1', null), 'proxy:/app', { command_invalid: 1 });
        await step('a Set that is not an object', () => req(k, '/app/raw?h=x-session-set&v=%5B1%5D', h), 'proxy:/app',
            { loaded: 1, command_invalid: 1 });
        await step('a command from an upstream without write', () => req(k, '/ro/login?u=u2', null), 'proxy:/ro', { command_invalid: 1 });
        await step('a required route without a session', () => req(k, '/req/echo', null), 'proxy:/req', { refused: 1 });
        await step('a cross-site POST', () => req(k, '/app/echo', h, { origin: 'https://evil.example' }, 'POST'), 'proxy:/app',
            { csrf_refused: 1 });
        await step('logout', () => req(k, '/app/logout', h), 'proxy:/app', { loaded: 1, destroyed: 1 });
        await step('the logged-out handle', () => req(k, '/app/echo', h), 'proxy:/app', { expired: 1 });
        assert.equal(last['proxy:/app rotated'], 0);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 10 §15: the /_session endpoints count what they end: a logout and a revoke are destroyed, a refused cross-site logout is not', async () => {
    const k = await startSessions(redis, app, {}, { admin: { token: ADMIN } });
    try {
        const destroyed = async () => {
            const s = sessionSeries(await metrics(k));
            return Object.entries(s).filter(([name]) => name.endsWith(' destroyed')).reduce((n, [, v]) => n + v, 0);
        };
        const a = handleOf(await req(k, '/app/login?u=u1', null));
        const b = handleOf(await req(k, '/app/login?u=u1', null));
        const d0 = await destroyed();
        assert.equal((await req(k, '/_session/logout', a, { origin: 'https://evil.example' }, 'POST')).status, 403);
        assert.equal(await destroyed(), d0, 'a refused logout ends nothing');
        assert.equal((await req(k, '/_session/logout', a, { origin: k.url }, 'POST')).status, 204);
        assert.equal(await destroyed(), d0 + 1, 'the logout');
        const sid = JSON.parse((await req(k, '/_session/list', b)).body).sessions[0].pid;
        assert.equal((await req(k, `/_session/${sid}`, b, { origin: k.url }, 'DELETE')).status, 204);
        assert.equal(await destroyed(), d0 + 2, 'the revoke');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 10 §15: X-Session-Rotate counts rotated once; a Rotate without a session counts nothing', async () => {
    const k = await startSessions(redis, app, {}, { admin: { token: ADMIN } });
    try {
        const h = handleOf(await req(k, '/app/login?u=u1', null));
        const s0 = sessionSeries(await metrics(k));
        const r = await req(k, '/app/raw?h=x-session-rotate&v=1', h);
        assert.equal(r.status, 200);
        assert.notEqual(handleOf(r), h, 'a new handle');
        const s1 = sessionSeries(await metrics(k));
        assert.deepEqual(changed(s0, s1, 'proxy:/app'), { loaded: 1, rotated: 1 });
        await req(k, '/app/raw?h=x-session-rotate&v=1', null);
        assert.deepEqual(changed(s1, sessionSeries(await metrics(k)), 'proxy:/app'), {});
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 10 §15: a store that cannot be reached counts unavailable (and a required route\'s 503 is not a refusal)', async () => {
    const dead = { url: `redis://127.0.0.1:${await freePort()}` };
    const k = await startSessions(dead, app, { store_timeout: '300ms' }, { admin: { token: ADMIN } });
    try {
        const before = sessionSeries(await metrics(k));
        const h = 'B'.repeat(54);
        assert.equal((await req(k, '/req/echo', h)).status, 503);
        assert.equal((await req(k, '/app/echo', h)).status, 200);
        const now = sessionSeries(await metrics(k));
        assert.deepEqual(changed(before, now, 'proxy:/req'), { unavailable: 1 });
        assert.deepEqual(changed(before, now, 'proxy:/app'), { unavailable: 1 });
    } finally {
        assertCleanExit(await k.stop());
    }
});
