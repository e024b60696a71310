// Issue 10, acceptance tests of the research note's §7 on what main has: F7 (the touch throttle, seen with MONITOR),
// F14 (parallel writes), F16 (these suites run on both store drivers: the ctest entries integration.session_* and
// integration_rest.session_*; here, that the mode is the one claimed), S15 (no secret in kvedge's logs: the check
// session_helpers.mjs runs at every stop, and here that it finds a secret that is logged), and the example verify
// helper examples/session-verify.mjs against kvedge's tokens and forged ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { SOURCE_DIR, assertCleanExit, sleep, startKvedge, startRedis, waitFor } from './harness.mjs';
import {
    useSessionFixture, withSessions, KEY, STORE_MODE, assertNoSessionHeaders, handleOf, keyOf, lastSeen, leakedSecrets, req, setCookies, startSessions, verifyJwt,
} from './session_helpers.mjs';
import { verifySessionJwt } from '../../examples/session-verify.mjs';

let redis, app, client;
useSessionFixture((f) => ({ redis, app, client } = f));

const withKvedge = (session, fn, extra = {}) => withSessions(redis, app, session, fn, extra);

const login = (k, u, cookie) => req(k, `/app/login?u=${encodeURIComponent(u)}`, cookie);
const set = (k, obj, cookie) => req(k, `/app/set?j=${encodeURIComponent(JSON.stringify(obj))}`, cookie);
const claimsOf = () => verifyJwt(lastSeen(app).headers['x-session-jwt']);

/** The commands MONITOR sees while `fn` runs: {args, lua} (lua: run by a script rather than sent by a client). */
async function monitored(fn) {
    const mon = await redis.monitor();
    try {
        await fn();
        await sleep(100);
    } finally {
        mon.disconnect();
    }
    return mon.seen;
}

const on = (cmds, key) => cmds.filter((c) => c.args.includes(key));
const named = (cmds, name) => cmds.filter((c) => c.args[0].toUpperCase() === name);

test('issue 10 F7: reads within touch_threshold never touch the session (MONITOR: no HSET/PEXPIRE, one script per read); past it one read touches, once', async () => {
    await withKvedge({ touch_threshold: '60s' }, async (k) => {
        const h = handleOf(await login(k, 'u1'));
        await req(k, '/app/echo', h); // the LOAD script's first use on the link: EVALSHA, NOSCRIPT, then EVAL
        const cmds = on(await monitored(async () => {
            for (let i = 0; i < 20; i++) {
                const r = await req(k, '/app/echo', h);
                assert.equal(r.status, 200);
                assert.equal(lastSeen(app).headers['x-session-status'], 'active');
            }
        }), keyOf(h));
        const sent = cmds.filter((c) => !c.lua);
        assert.equal(sent.length, 20, `one store command per read: ${JSON.stringify(sent.map((c) => c.args[0]))}`);
        assert.ok(sent.every((c) => /^EVAL(SHA)?$/i.test(c.args[0])), 'each one the LOAD script');
        assert.equal(named(cmds, 'PEXPIRE').length, 0, 'no touch within the threshold');
        assert.equal(named(cmds, 'HSET').length, 0);
    });
    await withKvedge({ touch_threshold: '2s', idle: '10m' }, async (k) => {
        const h = handleOf(await login(k, 'u1'));
        await client.pexpire(keyOf(h), 300_000); // so a touch shows in the TTL too
        await sleep(2100);
        const cmds = on(await monitored(async () => {
            for (let i = 0; i < 10; i++) await req(k, '/app/echo', h);
        }), keyOf(h));
        assert.equal(named(cmds, 'PEXPIRE').filter((c) => c.lua).length, 1, 'exactly one touch: the first read past the threshold');
        assert.equal(named(cmds, 'HSET').filter((c) => c.lua).length, 1);
        const pttl = await client.pttl(keyOf(h));
        assert.ok(pttl > 500_000 && pttl <= 600_000, `the touch set the idle TTL again: ${pttl}`);
    });
});

test('issue 10 F14: 50 parallel X-Session-Set of different keys all survive, and sver grows by exactly 50', async () => {
    await withKvedge({}, async (k) => {
        const h = handleOf(await set(k, { start: 0 }));
        await req(k, '/app/echo', h);
        const sver = claimsOf().sver;
        const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => set(k, { [`k${i}`]: i }, h)));
        for (const r of rs) {
            assert.equal(r.status, 200);
            assert.deepEqual(setCookies(r), [], 'no write forked the session');
            assertNoSessionHeaders(r);
        }
        await req(k, '/app/echo', h);
        const c = claimsOf();
        assert.equal(c.sver, sver + 50);
        assert.deepEqual(c.data, { start: 0, ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])) });
        assert.equal((await client.keys('*')).length, 1, 'one session');
    });
});

test('issue 10 F14: 2x100 parallel writes to one key end with one of the written values, stored as valid JSON', async () => {
    await withKvedge({}, async (k) => {
        const h = handleOf(await set(k, { x: 'start' }));
        const written = new Set();
        const writes = [];
        for (let i = 0; i < 100; i++) {
            const a = `a${i}`, b = { b: i, s: 'x'.repeat(i) };
            written.add(JSON.stringify(a)).add(JSON.stringify(b));
            writes.push(set(k, { x: a }, h), set(k, { x: b }, h));
        }
        const rs = await Promise.all(writes);
        assert.deepEqual(rs.map((r) => r.status).filter((s) => s !== 200), []);
        const field = (await client.hgetall(keyOf(h)))['d:x'];
        assert.doesNotThrow(() => JSON.parse(field), `valid JSON: ${field}`);
        assert.ok(written.has(JSON.stringify(JSON.parse(field))), `one of the written values: ${field}`);
        await req(k, '/app/echo', h);
        const c = claimsOf();
        assert.equal(c.sver, 201);
        assert.equal(JSON.stringify(c.data.x), JSON.stringify(JSON.parse(field)), 'the JWT carries the stored value');
    });
});

test('issue 10 F15/F16: a store that stops answering (SIGSTOP): a required route answers 503 within store_timeout and never calls the upstream, an optional one forwards unavailable; once it answers again, sessions work', async () => {
    const own = await startRedis();
    const ownClient = own.client();
    const k = await startSessions(own, app, { store_timeout: '300ms' });
    let paused = false;
    try {
        const h = handleOf(await login(k, 'u1'));
        await req(k, '/req/echo', h); // every script loaded before the pause
        app.requests.length = 0;
        await own.kill('SIGSTOP');
        paused = true;
        const t0 = Date.now();
        const r = await req(k, '/req/echo', h);
        const took = Date.now() - t0;
        assert.equal(r.status, 503);
        assert.ok(took >= 250 && took < 300 + 700, `answered after ${took} ms (store_timeout 300 ms)`);
        assert.equal(app.requests.length, 0, 'the upstream was not called');
        const o = await req(k, '/app/echo', h);
        assert.equal(o.status, 200);
        assert.equal(lastSeen(app).headers['x-session-status'], 'unavailable');
        assert.equal(lastSeen(app).headers['x-session-jwt'], undefined);
        assertNoSessionHeaders(o);
        await own.kill('SIGCONT');
        paused = false;
        await waitFor(async () => {
            await req(k, '/req/echo', h);
            return lastSeen(app).headers['x-session-status'] === 'active';
        }, { timeoutMs: 10_000, intervalMs: 100, message: 'the session is found again' });
        assert.equal(await ownClient.exists(keyOf(h)), 1);
    } finally {
        if (paused) await own.kill('SIGCONT');
        assertCleanExit(await k.stop());
        await own.stop();
    }
});

test('issue 10 F16: the session store is the one the run says (kvedge\'s own /_kv through the KV REST driver in rest mode, hiredis otherwise)', async () => {
    await withKvedge({}, async (k) => {
        const h = handleOf(await login(k, 'u1'));
        await req(k, '/app/echo', h);
        assert.equal(lastSeen(app).headers['x-session-status'], 'active');
        const result = await k.stop();
        assertCleanExit(result);
        const kvLines = result.stdout.split('\n').filter((l) => /"POST \/_kv/.test(l));
        if (STORE_MODE === 'rest') assert.ok(kvLines.length >= 2, `the store calls went through /_kv:\n${result.stdout}`);
        else assert.deepEqual(kvLines, [], 'no KV REST call on a Redis store');
    });
});

test('issue 10 S15: the log check finds a JWT that is logged (an access log format naming X-Session-JWT); the session cookie pair is stripped before any log, even one naming Cookie', async () => {
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        log: { access_log: '-', access_log_format: '%r cookie=%{cookie}i jwt=%{x-session-jwt}i' },
        routes: [{ path: '/app', upstream: `${app.url}/`, session: { mode: 'optional', write: true, jwt_key: KEY } }],
    });
    const h = handleOf(await login(k, 'leak'));
    await req(k, '/app/echo', `a=1; __Host-sid=${h}`);
    const jwt = lastSeen(app).headers['x-session-jwt'];
    const result = await k.stop();
    assertCleanExit(result);
    const found = leakedSecrets(result.stdout);
    assert.ok(found.includes(jwt), 'the check finds the JWT in a log that holds it');
    assert.match(result.stdout, /GET \/app\/echo HTTP\/1\.1 cookie=a=1 jwt=/, 'the Cookie field is logged without the session pair');
    assert.ok(!found.includes(h) && !found.includes(h.slice(11)), 'the handle is in no log');
    assert.deepEqual(leakedSecrets(result.stderr), [], 'kvedge\'s own error log holds none');
});

test('issue 10: examples/session-verify.mjs accepts kvedge\'s JWT and refuses tampered, expired, alg-confused and mis-addressed ones', async () => {
    await withKvedge({}, async (k) => {
        const h = handleOf(await login(k, 'u1'));
        await req(k, '/app/echo', h);
        const token = lastSeen(app).headers['x-session-jwt'];
        const c = verifySessionJwt(token, { key: KEY, audience: '/app' });
        assert.equal(c?.sub, 'u1');
        assert.equal(verifySessionJwt(token, { key: KEY, audience: '/other' }), null, 'another audience');
        assert.equal(verifySessionJwt(token, { key: `${KEY}x`, audience: '/app' }), null, 'another key');
        assert.equal(verifySessionJwt(token, { key: KEY, audience: '/app', now: c.exp + 6 }), null, 'expired (5 s skew)');
        assert.ok(verifySessionJwt(token, { key: KEY, audience: '/app', now: c.exp + 4 }), 'within the skew');
        const [hd, p, s] = token.split('.');
        const forge = (header, claims, key = KEY) => {
            const hp = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
            return `${hp}.${crypto.createHmac('sha256', key).update(hp).digest('base64url')}`;
        };
        const claims = JSON.parse(Buffer.from(p, 'base64url'));
        for (const [why, t] of [
            ['tampered payload', `${hd}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${s}`],
            ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`],
            ['alg hs256', forge({ alg: 'hs256', typ: 'JWT' }, claims)],
            ['exp as a string', forge({ alg: 'HS256' }, { ...claims, exp: String(claims.exp) })],
            ['nbf in the future', forge({ alg: 'HS256' }, { ...claims, nbf: claims.iat + 3600 })],
            ['another issuer', forge({ alg: 'HS256' }, { ...claims, iss: 'evil' })],
            ['four segments', `${token}.x`],
            ['junk in the signature', `${token.slice(0, -2)}!!`],
            ['a non-canonical signature', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`],
        ]) assert.equal(verifySessionJwt(t, { key: KEY, audience: '/app' }), null, why);
        assert.ok(verifySessionJwt(forge({ alg: 'HS256', typ: 'JWT' }, claims), { key: KEY, audience: '/app' }), 'the forge itself is right');
        // ES256 with a JWKS: accepted; the HS256 confusion (HMAC keyed with the public JWK) refused
        const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] };
        const hp = `${Buffer.from('{"alg":"ES256","kid":"k1","typ":"JWT"}').toString('base64url')}.${p}`;
        const es = `${hp}.${crypto.sign('sha256', Buffer.from(hp), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
        assert.equal(verifySessionJwt(es, { jwks, audience: '/app' })?.sub, 'u1');
        assert.equal(verifySessionJwt(es, { key: KEY, audience: '/app' }), null, 'an HS256 verifier never takes ES256');
        assert.equal(verifySessionJwt(forge({ alg: 'HS256', kid: 'k1' }, claims, JSON.stringify(jwks.keys[0])), { jwks, audience: '/app' }), null);
        // the command line
        const cli = await promisify(execFile)(process.execPath, [path.join(SOURCE_DIR, 'examples/session-verify.mjs'), token, '/app'],
            { env: { ...process.env, SESSION_JWT_KEY: KEY } });
        assert.equal(JSON.parse(cli.stdout).sub, 'u1');
        await assert.rejects(promisify(execFile)(process.execPath, [path.join(SOURCE_DIR, 'examples/session-verify.mjs'), token, '/x'],
            { env: { ...process.env, SESSION_JWT_KEY: KEY } }), (e) => e.code === 1);
    });
});
