// Issue 10 S12, the strict-signature mode of the session middleware (docs/sessions.md §7): with `session.command_key`
// set, the X-Session-* commands of a response apply only when it also carries X-Session-Sig, the base64url
// HMAC-SHA256 under that key of the canonical text of its commands; anything else drops every command. A real
// redis-server (or the KV REST driver: startSessions) and an upstream that sends whatever headers a test asks for.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { assertCleanExit, http, startRedis, startUpstream } from './harness.mjs';
import { assertNoSessionHeaders, clears, handleOf, keyOf, req, setCookies, startSessions, verifyJwt } from './session_helpers.mjs';
import { signCommands } from '../../examples/session-verify.mjs';

const COMMAND_KEY = 'session-command-key-0123456789abcdef-0123';
const ADMIN = 'admin-token-0123456789abcdef';
let redis, app, client;

// /h?headers=<JSON object>: every member becomes a response header; anything else echoes the request headers
function startHeaderApp() {
    return startUpstream((request, res) => {
        const url = new URL(request.url, 'http://x');
        const headers = { 'content-type': 'application/json', ...(url.pathname === '/h' ? JSON.parse(url.searchParams.get('headers')) : {}) };
        const body = JSON.stringify({ url: request.url, headers: request.headers });
        res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
        res.end(body);
    });
}

before(async () => {
    redis = await startRedis();
    app = await startHeaderApp();
    client = redis.client();
});

after(async () => {
    await app?.stop();
    await redis?.stop();
});

beforeEach(async () => {
    await client.flushall();
});

/** The same canonical text and HMAC the helper computes, written out here so that the test checks the helper too. */
function sign(cmds, key = COMMAND_KEY) {
    let canonical = '';
    for (const name of ['login', 'set', 'rotate', 'logout']) if (cmds[name] !== undefined) canonical += `x-session-${name}:${cmds[name]}\n`;
    return crypto.createHmac('sha256', key).update(canonical).digest('base64url');
}

/** A response of the upstream with commands `cmds` ({login, set, rotate, logout}) and X-Session-Sig `sig` (none: undefined). */
function send(k, cmds, sig, cookie) {
    const headers = {};
    for (const [name, v] of Object.entries(cmds)) headers[`x-session-${name}`] = v;
    if (sig !== undefined) headers['x-session-sig'] = sig;
    return req(k, `/app/h?headers=${encodeURIComponent(JSON.stringify(headers))}`, cookie);
}

/** The session the upstream sees with `handle`: its JWT's claims (null: none). */
async function claims(k, handle) {
    const r = await req(k, '/app/', handle);
    const seen = JSON.parse(r.body).headers;
    return seen['x-session-jwt'] ? verifyJwt(seen['x-session-jwt']) : null;
}

async function withKvedge(session, fn, extra = {}) {
    const k = await startSessions(redis, app, session, extra);
    try {
        await fn(k);
    } finally {
        const result = await k.stop();
        assertCleanExit(result);
        assert.ok(!`${result.stdout}\n${result.stderr}`.includes(COMMAND_KEY), 'the command key is never logged');
    }
}

async function commandInvalid(k) {
    const r = await http('GET', `${k.adminUrl}metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    return Number(/^kvedge_session_total\{route="proxy:\/app",event="command_invalid"\} (\d+)$/m.exec(r.body)[1]);
}

test('issue 10 S12: the example helper signCommands() computes the canonical HMAC of the note', () => {
    const cmds = { logout: 'current', login: '{"sub":"alice"}', set: '{"a":1}', rotate: '1' };
    assert.equal(signCommands(cmds, COMMAND_KEY), sign(cmds));
    assert.equal(signCommands({ set: '{"a":1}' }, COMMAND_KEY),
        crypto.createHmac('sha256', COMMAND_KEY).update('x-session-set:{"a":1}\n').digest('base64url'));
});

test('issue 10 S12: with command_key, signed Login, Set, Rotate and Logout apply, and X-Session-Sig never reaches the client', async () => {
    await withKvedge({ command_key: COMMAND_KEY }, async (k) => {
        const login = { login: JSON.stringify({ sub: 'alice', data: { cart: 1 } }) };
        const r1 = await send(k, login, sign(login));
        assert.equal(r1.status, 200);
        assertNoSessionHeaders(r1);
        const h1 = handleOf(r1);
        assert.equal((await claims(k, h1)).sub, 'alice');

        const set = { set: '{"theme":"dark"}' };
        const r2 = await send(k, set, sign(set), h1);
        assertNoSessionHeaders(r2);
        assert.deepEqual((await claims(k, h1)).data, { cart: 1, theme: 'dark' });

        // a Rotate alone first: a ROTATE script not yet loaded in Redis may run after the PATCH of the same batch (a
        // NOSCRIPT retry, found here, reported; not this suite's subject)
        const rot1 = { rotate: '1' };
        const h15 = handleOf(await send(k, rot1, sign(rot1), h1));
        assert.notEqual(h15, h1);
        const rot = { rotate: '1', set: '{"n":2}' };
        const h2 = handleOf(await send(k, rot, sign(rot), h15));
        assert.notEqual(h2, h15);
        assert.deepEqual((await claims(k, h2)).data, { cart: 1, theme: 'dark', n: 2 });

        const out = { logout: 'current' };
        const r4 = await send(k, out, sign(out), h2);
        assert.ok(clears(r4));
        assert.equal(await client.exists(keyOf(h2)), 0);
    });
});

test('issue 10 S12: unsigned commands, a wrong key, a tampered value or the signature of another command set change nothing, each counted command_invalid', async () => {
    await withKvedge({ command_key: COMMAND_KEY }, async (k) => {
        const login = { login: '{"sub":"alice"}' };
        const h = handleOf(await send(k, login, sign(login)));
        const before = await client.hgetall(keyOf(h));
        let invalid = await commandInvalid(k);
        const attempts = [
            ['unsigned Login', { login: '{"sub":"mallory"}' }, undefined, null],
            ['unsigned Set', { set: '{"role":"x"}' }, undefined, h],
            ['unsigned Logout', { logout: 'current' }, undefined, h],
            ['unsigned Rotate', { rotate: '1' }, undefined, h],
            ['Login signed with another key', { login: '{"sub":"mallory"}' }, sign({ login: '{"sub":"mallory"}' }, 'another-key-0123456789abcdef-0123456789'), h],
            ['a tampered Login', { login: '{"sub":"admin"}' }, sign({ login: '{"sub":"alice"}' }), h],
            ['a tampered Set', { set: '{"role":"admin"}' }, sign({ set: '{"role":"user"}' }), h],
            ['a Set with the signature of a Login', { set: '{"x":1}' }, sign({ login: '{"x":1}' }), h],
            ['a Logout added to a signed Set', { set: '{"x":1}', logout: 'current' }, sign({ set: '{"x":1}' }), h],
            ['a Set added to a signed Rotate', { rotate: '1', set: '{"x":1}' }, sign({ rotate: '1' }), h],
            ['an empty signature', { set: '{"x":1}' }, '', h],
            ['a signature with padding', { set: '{"x":1}' }, `${sign({ set: '{"x":1}' })}=`, h],
            ['a hex signature', { set: '{"x":1}' }, crypto.createHmac('sha256', COMMAND_KEY).update('x-session-set:{"x":1}\n').digest('hex'), h],
        ];
        for (const [what, cmds, sig, cookie] of attempts) {
            const r = await send(k, cmds, sig, cookie);
            assert.equal(r.status, 200, what);
            assertNoSessionHeaders(r);
            assert.deepEqual(setCookies(r), [], `${what}: no cookie set or cleared`);
            assert.equal(await commandInvalid(k), ++invalid, `${what}: counted command_invalid`);
        }
        const { last: _l1, ...was } = before;
        const { last: _l2, ...now } = await client.hgetall(keyOf(h));
        assert.deepEqual(now, was, 'the session is unchanged (but for its last use)');
        assert.equal((await client.keys('kvs1:*:s:*')).length, 1, 'no other session was created');
        const c = await claims(k, h);
        assert.equal(c.sub, 'alice');
        assert.deepEqual(c.data ?? {}, {});
    }, { admin: { token: ADMIN } });
});

test('issue 10 S12: a signed X-Session-Set of {"sub":"admin"} is a data key, never the user', async () => {
    await withKvedge({ command_key: COMMAND_KEY }, async (k) => {
        const login = { login: '{"sub":"alice"}' };
        const h = handleOf(await send(k, login, sign(login)));
        const set = { set: '{"sub":"admin","uid":"admin"}' };
        await send(k, set, sign(set), h);
        const c = await claims(k, h);
        assert.equal(c.sub, 'alice');
        assert.deepEqual(c.data, { sub: 'admin', uid: 'admin' });
        assert.equal((await client.hgetall(keyOf(h))).uid, 'alice');

        const anon = handleOf(await send(k, set, sign(set)));
        const a = await claims(k, anon);
        assert.equal(a.sub, undefined, 'still anonymous');
        assert.deepEqual(a.data, { sub: 'admin', uid: 'admin' });
    });
});

test('issue 10 S12: without command_key, commands apply unsigned as before and X-Session-Sig is stripped without effect', async () => {
    await withKvedge({}, async (k) => {
        const r = await send(k, { login: '{"sub":"bob"}' }, 'not-a-signature');
        assertNoSessionHeaders(r);
        assert.equal((await claims(k, handleOf(r))).sub, 'bob');
    });
});

test('issue 10 S12: a command_key shorter than 32 bytes is a configuration error', async () => {
    await assert.rejects(startSessions(redis, app, { command_key: 'too-short' }), /command_key must be at least 32 bytes/);
});
