// Issue 10, ES256 identity JWTs (docs/sessions.md §8): a route signs X-Session-JWT with a P-256 key whose public half
// kvedge publishes as a JWKS; an upstream verifies the token with node's crypto alone (createPublicKey from the JWK,
// ES256 with ieee-p1363 signatures), the kid is the key's RFC 7638 thumbprint, tokens are reused per (session,
// version) until 80 % of their life, and the optional plain identity headers. A real redis-server and a recording
// upstream (session_helpers.mjs).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assertCleanExit, http, makeTempDir, runKvedge, sleep, startRedis, writeConfig } from './harness.mjs';
import { KEY, assertNoSessionHeaders, handleOf, lastSeen, req, startApp, startSessionKvedge, verifyJwt } from './session_helpers.mjs';

let redis, app, client, dir, keyFile, keyFile2, p384File;

/** A PEM private key file of `curve` (PKCS#8, or SEC 1 when `sec1`). */
function writeKey(name, curve = 'prime256v1', sec1 = false) {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: curve });
    const file = path.join(dir, name);
    fs.writeFileSync(file, privateKey.export({ type: sec1 ? 'sec1' : 'pkcs8', format: 'pem' }), { mode: 0o600 });
    return file;
}

before(async () => {
    redis = await startRedis();
    app = await startApp();
    client = redis.client();
    dir = makeTempDir('kvedge-es256-');
    keyFile = writeKey('es256.pem');
    keyFile2 = writeKey('es256-b.pem', 'prime256v1', true);
    p384File = writeKey('p384.pem', 'secp384r1');
});

after(async () => {
    await app?.stop();
    await redis?.stop();
});

beforeEach(async () => {
    await client.flushall();
    app.requests.length = 0;
});

/** kvedge with /app (ES256 with `session`'s overrides) and, in `routes`, more routes. */
async function withKvedge(session, fn, routes = []) {
    const k = await startSessionKvedge({
        threads: 1,
        redis: redis.url,
        routes: [
            {
                path: '/app',
                upstream: `${app.url}/`,
                session: Object.fromEntries(Object.entries({
                    mode: 'optional', write: true, jwt_alg: 'ES256', jwt_private_key_file: keyFile, store_timeout: '2s', ...session,
                }).filter(([, v]) => v !== undefined)), // undefined: leave the key out
            },
            ...routes,
        ],
    });
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

async function jwks(k, p = '/_session/.well-known/jwks.json') {
    const r = await http('GET', `${k.url}${p}`);
    assert.equal(r.status, 200, `GET ${p}`);
    return { r, doc: JSON.parse(r.body) };
}

/** RFC 7638: SHA-256 of the required members in lexicographic order, base64url. */
function thumbprint(jwk) {
    return crypto.createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest('base64url');
}

/** Verifies an ES256 token with node's crypto against the JWKS `doc`; returns {header, claims} or throws. */
function verifyEs256(token, doc) {
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    assert.equal(header.alg, 'ES256');
    const jwk = doc.keys.find((key) => key.kid === header.kid);
    assert.ok(jwk, `the JWKS has the token's kid ${header.kid}`);
    const pub = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    const ok = crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key: pub, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    assert.ok(ok, 'the ES256 signature verifies with the published key');
    return { header, claims: JSON.parse(Buffer.from(p, 'base64url')) };
}

const jwtSeen = () => lastSeen(app).headers['x-session-jwt'];

test('issue 10 F3 (ES256): the upstream verifies X-Session-JWT with node\'s crypto and the public JWKS; kid is the RFC 7638 thumbprint; the JWKS holds no private part', async () => {
    await withKvedge({}, async (k) => {
        const { r: jr, doc } = await jwks(k);
        assert.match(jr.headers['content-type'], /^application\/json/);
        assert.equal(jr.headers['cache-control'], 'public, max-age=300');
        assert.equal(doc.keys.length, 1);
        const [jwk] = doc.keys;
        assert.deepEqual(Object.keys(jwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'], 'no "d": the private key stays in kvedge');
        assert.equal(jwk.kid, thumbprint(jwk));
        const mine = crypto.createPublicKey(crypto.createPrivateKey(fs.readFileSync(keyFile))).export({ format: 'jwk' });
        assert.equal(jwk.x, mine.x, 'the published key is the configured one');
        assert.equal(jwk.y, mine.y);

        const login = await req(k, '/app/login?u=u1&d=%7B%22role%22%3A%22admin%22%7D');
        assertNoSessionHeaders(login);
        const h = handleOf(login);
        const t0 = Date.now() / 1000;
        await req(k, '/app/page', h);
        const { header, claims } = verifyEs256(jwtSeen(), doc);
        assert.equal(header.kid, jwk.kid);
        assert.equal(claims.iss, 'kvedge');
        assert.equal(claims.aud, '/app');
        assert.equal(claims.sub, 'u1');
        assert.deepEqual(claims.data, { role: 'admin' });
        assert.equal(claims.exp - claims.iat, 60);
        assert.ok(Math.abs(claims.iat - t0) <= 2, 'iat is now');
        assert.match(claims.sid, /^[0-9a-f]{32}$/);
        assert.ok(!h.includes(claims.sid));

        // tampering with the payload breaks the signature
        const [th, , ts] = jwtSeen().split('.');
        const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url');
        assert.throws(() => verifyEs256(`${th}.${forged}.${ts}`, doc), /signature verifies/);
        // S8 from the upstream's side: an HS256 token MAC'd with the public key's PEM is not an ES256 token
        const pem = crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        const hh = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })).toString('base64url');
        const mac = crypto.createHmac('sha256', pem).update(`${hh}.${forged}`).digest('base64url');
        assert.throws(() => verifyEs256(`${hh}.${forged}.${mac}`, doc), /ES256/);
    });
});

test('issue 10 (ES256 token cache): the same session and version reuse one token; a write (new sver) mints a new one with the new data; jwt_cache_entries: 0 signs every request', async () => {
    await withKvedge({}, async (k) => {
        const { doc } = await jwks(k);
        const h = handleOf(await req(k, '/app/login?u=u2'));
        await req(k, '/app/a', h);
        const first = jwtSeen();
        await req(k, '/app/b', h);
        assert.equal(jwtSeen(), first, 'reused from the thread\'s cache');
        const c1 = verifyEs256(first, doc).claims;
        await req(k, `/app/set?j=${encodeURIComponent('{"cart":3}')}`, h);
        await req(k, '/app/c', h);
        const { claims: c2 } = verifyEs256(jwtSeen(), doc);
        assert.notEqual(jwtSeen(), first, 'a new version, a new token');
        assert.equal(c2.sver, c1.sver + 1);
        assert.deepEqual(c2.data, { cart: 3 });
        // another session of the same user never gets this session's token
        const h2 = handleOf(await req(k, '/app/login?u=u2'));
        await req(k, '/app/d', h2);
        const { claims: c3 } = verifyEs256(jwtSeen(), doc);
        assert.notEqual(c3.sid, c2.sid);
    });
    await withKvedge({ jwt_cache_entries: 0 }, async (k) => {
        const h = handleOf(await req(k, '/app/login?u=u3'));
        await req(k, '/app/a', h);
        const first = jwtSeen();
        await req(k, '/app/b', h);
        assert.notEqual(jwtSeen(), first, 'no cache: a fresh token (its own jti) per request');
    });
});

test('issue 10 (HS256 token cache): HS256 tokens are reused the same way (a fresh one per version); jwt_cache_entries: 0 mints per request', async () => {
    const hs = async (extra, fn) => withKvedge({ jwt_alg: 'HS256', jwt_private_key_file: undefined, jwt_key: KEY, ...extra }, fn);
    await hs({}, async (k) => {
        const h = handleOf(await req(k, '/app/login?u=u6'));
        await req(k, '/app/a', h);
        const first = jwtSeen();
        await req(k, '/app/b', h);
        assert.equal(jwtSeen(), first, 'reused');
        const c1 = verifyJwt(first);
        await req(k, `/app/set?j=${encodeURIComponent('{"n":1}')}`, h);
        await req(k, '/app/c', h);
        const c2 = verifyJwt(jwtSeen());
        assert.equal(c2.sver, c1.sver + 1);
        assert.deepEqual(c2.data, { n: 1 });
    });
    await hs({ jwt_cache_entries: 0 }, async (k) => {
        const h = handleOf(await req(k, '/app/login?u=u7'));
        await req(k, '/app/a', h);
        const first = jwtSeen();
        await req(k, '/app/b', h);
        assert.notEqual(jwtSeen(), first);
        assert.notEqual(verifyJwt(jwtSeen()).jti, verifyJwt(first).jti);
    });
});

test('issue 10 F10 (token cache): X-Session-Logout: all on a request whose token came from the cache still knows the user (every session of it ends)', async () => {
    await withKvedge({}, async (k) => {
        const h1 = handleOf(await req(k, '/app/login?u=u8'));
        const h2 = handleOf(await req(k, '/app/login?u=u8'));
        await req(k, '/app/c', h2);
        assert.equal(lastSeen(app).headers['x-session-status'], 'active', 'both sessions live');
        await req(k, '/app/a', h1); // mints and caches h1's token
        await req(k, '/app/b', h1);
        const cached = jwtSeen();
        const out = await req(k, '/app/logout?all', h1); // LOAD, then the cached token: a hit
        assert.equal(lastSeen(app).headers['x-session-jwt'], cached, 'the logout request was a cache hit');
        assert.equal(out.status, 200);
        await req(k, '/app/c', h2);
        assert.equal(lastSeen(app).headers['x-session-status'], 'anonymous', 'the other session of the user ended too');
    });
});

test('issue 10 (ES256 token cache): a token is reused only until 80 % of its life (jwt_ttl 2s: 1 s)', async () => {
    await withKvedge({ jwt_ttl: '2s' }, async (k) => {
        const { doc } = await jwks(k);
        const h = handleOf(await req(k, '/app/login?u=u4'));
        await req(k, '/app/a', h);
        const first = verifyEs256(jwtSeen(), doc).claims;
        await sleep(1100);
        await req(k, '/app/b', h);
        const second = verifyEs256(jwtSeen(), doc).claims;
        assert.ok(second.iat > first.iat, `a new token after 80 % of the first one's life (iat ${first.iat} -> ${second.iat})`);
        assert.ok(second.exp > Date.now() / 1000, 'never a token about to expire');
    });
});

test('issue 10 (plain headers): headers.user / headers.sid reach the upstream next to the JWT; client copies never do; a user id that is not visible ASCII is left out', async () => {
    await withKvedge({ headers: { user: 'X-Session-User', sid: 'X-Session-Id' } }, async (k) => {
        const { doc } = await jwks(k);
        await req(k, '/app/anon', null, { 'x-session-user': 'admin', 'x-session-id': 'forged', x_session_user: 'admin' });
        const anon = lastSeen(app).headers;
        assert.equal(anon['x-session-user'], undefined, 'a client-sent copy is stripped');
        assert.equal(anon['x-session-id'], undefined);
        assert.equal(anon.x_session_user, undefined);

        const h = handleOf(await req(k, '/app/login?u=alice'));
        await req(k, '/app/page', h, { 'x-session-user': 'admin' });
        const seen = lastSeen(app).headers;
        assert.ok(seen['x-session-jwt'], JSON.stringify(seen));
        const { claims } = verifyEs256(seen['x-session-jwt'], doc);
        assert.equal(seen['x-session-user'], 'alice', 'the session\'s user, not the client\'s');
        assert.equal(seen['x-session-id'], claims.sid);
        await req(k, '/app/again', h, { 'x-session-user': 'admin' }); // a token-cache hit: the same headers
        const again = lastSeen(app).headers;
        assert.equal(again['x-session-jwt'], seen['x-session-jwt'], 'from the cache');
        assert.equal(again['x-session-user'], 'alice');
        assert.equal(again['x-session-id'], claims.sid);

        const hu = handleOf(await req(k, `/app/login?u=${encodeURIComponent('bob smith')}`));
        await req(k, '/app/page', hu);
        const u = lastSeen(app).headers;
        assert.equal(verifyEs256(u['x-session-jwt'], doc).claims.sub, 'bob smith', 'the JWT carries any user id');
        assert.equal(u['x-session-user'], undefined, 'not visible ASCII: no plain header');
        assert.match(u['x-session-id'], /^[0-9a-f]{32}$/);
        await req(k, '/app/page', hu);
        assert.equal(lastSeen(app).headers['x-session-user'], undefined, 'nor from the cache');
        assert.equal(lastSeen(app).headers['x-session-id'], u['x-session-id']);
    });
});

test('issue 10 (JWKS): routes sharing a jwks_path are listed together (a key once); another jwks_path; HS256 routes publish nothing; only GET/HEAD of the exact path', async () => {
    // endpoint '': routes with other keys cannot share /app's /_session endpoints (their slot tags and ids differ)
    const es = (p, file, extra = {}) => ({ path: p, upstream: `${app.url}/`, session: { jwt_alg: 'ES256', jwt_private_key_file: file, endpoint: '', ...extra } });
    await withKvedge({}, async (k) => {
        const { doc } = await jwks(k);
        assert.equal(doc.keys.length, 2, 'two distinct keys on /_session/.well-known/jwks.json');
        const { doc: other } = await jwks(k, '/keys/jwks.json');
        assert.equal(other.keys.length, 1);
        assert.ok(doc.keys.some((j) => j.kid === other.keys[0].kid), 'the same key on both paths');
        const h = handleOf(await req(k, '/b/login?u=u5'));
        await req(k, '/b/x', h);
        const { header } = verifyEs256(jwtSeen(), doc);
        assert.equal(header.kid, other.keys[0].kid);
        assert.equal((await http('POST', `${k.url}/_session/.well-known/jwks.json`)).status, 405);
        assert.equal((await http('GET', `${k.url}/_session/.well-known/jwks.json/x`)).status, 404);
        const head = await http('HEAD', `${k.url}/_session/.well-known/jwks.json`);
        assert.equal(head.status, 200);
    }, [es('/b', keyFile2, { write: true }), es('/c', keyFile), es('/d', keyFile2, { jwks_path: '/keys/jwks.json' }),
        { path: '/hs', upstream: `${app.url}/`, session: { jwt_key: KEY, jwks_path: '/hs/jwks.json', endpoint: '' } }]);

    const k = await startSessionKvedge({ threads: 1, redis: redis.url, routes: [{ path: '/hs', upstream: `${app.url}/`, session: { jwt_key: KEY } }] });
    try {
        assert.equal((await http('GET', `${k.url}/_session/.well-known/jwks.json`)).status, 404, 'no ES256 route: no JWKS');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 10 (ES256 configuration): a private key is required, P-256 only, never quoted; a key without jwt_alg: ES256 is pointed out; both keys inherited; header names must be X-Session-*; jwks_path must not collide; --help-config', async () => {
    const cdir = makeTempDir();
    const route = (session, more = []) => ({
        listen: [{ host: '127.0.0.1', port: 1 }], redis: redis.url, routes: [{ path: '/a', upstream: 'http://127.0.0.1:1/', session }, ...more],
    });
    const check = async (session, name, more) => runKvedge(['-t', '-c', writeConfig(route(session, more), { dir: cdir, name })]);

    const none = await check({ jwt_alg: 'ES256' }, 'a.yaml');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /jwt_alg: ES256 needs jwt_private_key/);
    const p384 = await check({ jwt_alg: 'ES256', jwt_private_key_file: p384File }, 'b.yaml');
    assert.equal(p384.code, 1);
    assert.match(p384.stderr, /P-256/);
    const garbage = await check({ jwt_alg: 'ES256', jwt_private_key: 'not-a-pem-secret-value' }, 'c.yaml');
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /not an unencrypted PEM private key/);
    assert.doesNotMatch(garbage.stderr, /not-a-pem-secret-value/, 'a secret is never quoted');
    const pemOnly = await check({ jwt_private_key_file: keyFile }, 'd.yaml');
    assert.equal(pemOnly.code, 1);
    assert.match(pemOnly.stderr, /jwt_private_key is given but jwt_alg is HS256 \(the default\): set jwt_alg: ES256, or give jwt_key/);
    // both keys in the top-level block: each route picks its algorithm
    const both = await runKvedge(['-t', '-c', writeConfig({ ...route('optional', [{ path: '/b', upstream: 'http://127.0.0.1:1/', session: { jwt_alg: 'ES256' } }]),
        session: { jwt_key: KEY, jwt_private_key_file: keyFile } }, { dir: cdir, name: 'd2.yaml' })]);
    assert.equal(both.stderr, '');
    assert.equal(both.code, 0);
    const badHeader = await check({ jwt_key: KEY, headers: { user: 'X-User' } }, 'e.yaml');
    assert.equal(badHeader.code, 1);
    assert.match(badHeader.stderr, /must be an X-Session-<name> header/);
    const jwtHeader = await check({ jwt_key: KEY, headers: { sid: 'X-Session-JWT' } }, 'f.yaml');
    assert.equal(jwtHeader.code, 1);
    const clash = await check({ jwt_alg: 'ES256', jwt_private_key_file: keyFile, jwks_path: '/b' }, 'g.yaml', [{ path: '/b', upstream: 'http://127.0.0.1:1/' }]);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /is also served by/);
    // two ES256 routes without jwt_key but with different keys derive different slot tags and ids: no shared endpoint
    const shared = await check({ jwt_alg: 'ES256', jwt_private_key_file: keyFile }, 'k.yaml',
        [{ path: '/b', upstream: 'http://127.0.0.1:1/', session: { jwt_alg: 'ES256', jwt_private_key_file: keyFile2 } }]);
    assert.equal(shared.code, 1);
    assert.match(shared.stderr, /session\.endpoint "\/_session" is also routes\[0\]'s, whose cookie_name, jwt_key \(or, without one, jwt_private_key\)/);
    const ok = await check({ jwt_alg: 'ES256', jwt_private_key_file: keyFile2, headers: { user: 'X-Session-User' } }, 'h.yaml');
    assert.equal(ok.stderr, '');
    assert.equal(ok.code, 0);
    // an inline PEM is never echoed: not in a value error, nor around a YAML syntax error
    const pemText = fs.readFileSync(keyFile, 'utf8');
    const body = pemText.split('\n')[1];
    const inline = `listen: [{host: 127.0.0.1, port: 1}]\nredis: ${redis.url}\nroutes:\n  - path: /a\n    upstream: http://127.0.0.1:1/\n`
        + `    session:\n      jwt_alg: ES256\n      jwt_private_key: |\n${pemText.trim().split('\n').map((l) => `        ${l}`).join('\n')}\n`;
    const broken = await runKvedge(['-t', '-c', writeConfig(`${inline}      jwks_path: [unclosed\n`, { dir: cdir, name: 'i.yaml' })]);
    assert.equal(broken.code, 1);
    assert.ok(!broken.stderr.includes(body), 'the PEM is not quoted around a syntax error');
    const badPath = await runKvedge(['-t', '-c', writeConfig(`${inline}      jwks_path: nope\n`, { dir: cdir, name: 'j.yaml' })]);
    assert.equal(badPath.code, 1);
    assert.match(badPath.stderr, /jwks_path must start with/);
    assert.ok(!badPath.stderr.includes(body), 'nor around a value error');
    const help = await runKvedge(['--help-config']);
    for (const word of ['jwt_alg', 'jwt_private_key', 'jwks_path', 'jwt_cache_entries', 'headers']) assert.match(help.stdout, new RegExp(word));
});
