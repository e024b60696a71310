// Issue 13, the web console's server side: off unless configured, assets built into the binary with strict headers,
// a login form that keeps the token out of URLs and logs, an HttpOnly SameSite=Strict cookie scoped to the console
// path, CSRF (X-Console-CSRF + same Origin) on every change, a read-only console user, and the JSON APIs of the pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { assertCleanExit, http, makeTempDir, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { makeCerts } from './httpclient_helpers.mjs';

const ADMIN = 'console-admin-token-7f3a9c1e55';
const READ_ONLY = 'console-readonly-token-b81d20aa';
const KV_TOKEN = 'console-kv-token-0c9e7d6b4a21';
const REDIS_PASSWORD = 'console-redis-pw-31fa07';
const CSP =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

let redis, upstream, k, logDir, accessLog;

before(async () => {
    redis = await startRedis();
    await redis.client().call('ACL', 'SETUSER', 'console', 'on', `>${REDIS_PASSWORD}`, '~*', '&*', '+@all');
    upstream = await startUpstream((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'content-length': 5 });
        res.end('hello');
    });
    logDir = makeTempDir('kvedge-console-');
    accessLog = path.join(logDir, 'access.log');
    k = await startKvedge({
        threads: 2,
        redis: `redis://console:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`,
        admin: { token: ADMIN, read_only_token: READ_ONLY, console: { enabled: true, path: '/ui' } },
        log: { access_log: accessLog },
        kv: { path: '/kv', tokens: [{ token: KV_TOKEN }] },
        routes: [{ path: '/app', upstream: `${upstream.url}/`, cache: {} }],
    }, { env: { CONSOLE_SECRET_ENV: 'console-env-secret-value' } });
});

after(async () => {
    if (k) assertCleanExit(await k.stop());
    await upstream?.stop();
    await redis?.stop();
});

const form = (token) => `token=${encodeURIComponent(token)}`;

/** POSTs the login form from the console's own origin; returns the response */
function login(token, headers = {}) {
    return http('POST', `${k.url}/ui/login`, {
        body: form(token),
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: k.url, ...headers },
    });
}

/** logs in with `token`; returns {cookie, csrf, session} */
async function session(token = ADMIN) {
    const r = await login(token);
    assert.equal(r.status, 303, r.body);
    const cookie = r.headers['set-cookie'][0].split(';')[0];
    const s = await http('GET', `${k.url}/ui/api/session`, { headers: { cookie } });
    assert.equal(s.status, 200);
    const json = JSON.parse(s.body);
    return { cookie, csrf: json.csrf, session: json };
}

test('issue 13 console: off unless configured (404 on its path)', async () => {
    const plain = await startKvedge({ admin: { token: ADMIN }, routes: [{ path: '/app', upstream: `${upstream.url}/` }] });
    try {
        for (const p of ['/ui/', '/ui/index.html', '/ui/api/session']) assert.equal((await http('GET', `${plain.url}${p}`)).status, 404, p);
        assert.equal((await http('POST', `${plain.url}/ui/login`, { body: form(ADMIN) })).status, 404);
    } finally {
        assertCleanExit(await plain.stop());
    }
});

test('issue 13 console: assets are built in, with Content-Type, ETag, no-cache, the exact CSP, nosniff and Referrer-Policy same-origin', async () => {
    const types = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };
    for (const [name, type] of Object.entries(types)) {
        const r = await http('GET', `${k.url}/ui/${name}`);
        assert.equal(r.status, 200, name);
        assert.equal(r.headers['content-type'], type);
        assert.equal(r.headers['cache-control'], 'no-cache');
        assert.equal(r.headers['content-security-policy'], CSP);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with the login form's POST,
        // which the Origin check refuses (found by console_login.test.mjs)
        assert.equal(r.headers['referrer-policy'], 'same-origin');
        assert.match(r.headers.etag, /^"[0-9a-f]{32}"$/);
        assert.ok(r.body.length > 0);
        const again = await http('GET', `${k.url}/ui/${name}`, { headers: { 'if-none-match': r.headers.etag } });
        assert.equal(again.status, 304);
    }
    const index = await http('GET', `${k.url}/ui/`);
    assert.equal(index.status, 200);
    assert.equal(index.body, (await http('GET', `${k.url}/ui/index.html`)).body);
    const scripts = [...index.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    assert.ok(scripts.length >= 1);
    for (const [, attrs, body] of scripts) {
        assert.match(attrs, /\bsrc="[a-z]+\.js"/, 'every script is a file of its own');
        assert.equal(body.trim(), '', 'no inline script');
    }
    assert.doesNotMatch(index.body, /\son[a-z]+=/i, 'no inline event handler');
    assert.doesNotMatch(index.body, /https?:\/\//, 'nothing fetched from elsewhere');
    assert.equal((await http('GET', `${k.url}/ui`)).status, 301);
    assert.equal((await http('GET', `${k.url}/ui/nothing.js`)).status, 404);
});

test('issue 13 console: a wrong token is 401 and logged without the token; the token never reaches the access log', async () => {
    const wrong = 'wrong-token-guess-5555aaaa';
    const r = await login(wrong);
    assert.equal(r.status, 401);
    assert.equal(r.headers['set-cookie'], undefined);
    await waitFor(() => /failed login from 127\.0\.0\.1: wrong token/.test(k.stderr()), { message: 'the failed login logged' });
    assert.ok(!k.stderr().includes(wrong), 'the wrong token is not in the error log');
    await session(ADMIN);
    await waitFor(() => fs.existsSync(accessLog) && /POST \/ui\/login/.test(fs.readFileSync(accessLog, 'utf8')), { message: 'logins in the access log' });
    const logged = fs.readFileSync(accessLog, 'utf8') + k.stderr();
    for (const secret of [ADMIN, wrong, encodeURIComponent(ADMIN)]) assert.ok(!logged.includes(secret), 'no token in the logs');
});

test('issue 13 console: a good login sets the cookie HttpOnly, SameSite=Strict, scoped to the console path, bounded', async () => {
    const r = await login(ADMIN);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/ui/');
    const cookies = r.headers['set-cookie'];
    assert.equal(cookies.length, 1);
    assert.match(cookies[0], /^kvedge_console=[0-9a-f]{64}; Path=\/ui; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    assert.ok(!cookies[0].includes(ADMIN));
    const s = await session(ADMIN);
    assert.equal(s.session.read_only, false);
    assert.match(s.csrf, /^[0-9a-f]{64}$/);
    assert.ok(s.session.expires > Date.now() / 1000 + 43000 && s.session.expires <= Date.now() / 1000 + 43201);
});

test('issue 13 console: every API is 401 without a session cookie (and with a made-up one)', async () => {
    const apis = [['GET', '/api/session'], ['GET', '/api/overview'], ['GET', '/api/config'], ['POST', '/api/check'], ['POST', '/logout'], ['POST', '/api/logout-all']];
    for (const [method, p] of apis) {
        for (const cookie of [undefined, `kvedge_console=${'a'.repeat(64)}`]) {
            const headers = { origin: k.url, ...(cookie ? { cookie } : {}) };
            const r = await http(method, `${k.url}/ui${p}`, { headers, body: method === 'POST' ? 'x' : undefined });
            assert.equal(r.status, 401, `${method} ${p}`);
            assert.equal(r.headers['content-type'], 'application/json');
            assert.deepEqual(JSON.parse(r.body), { error: 'login required' });
        }
    }
});

test('issue 13 console: CSRF: a POST without X-Console-CSRF, with a wrong one, or from another origin is 403', async () => {
    const s = await session(ADMIN);
    const post = (headers) => http('POST', `${k.url}/ui/api/check`, { headers: { cookie: s.cookie, ...headers }, body: 'listen: [{port: 1}]' });
    assert.equal((await post({ origin: k.url })).status, 403, 'no CSRF header');
    assert.equal((await post({ origin: k.url, 'x-console-csrf': 'f'.repeat(64) })).status, 403, 'a wrong CSRF token');
    assert.equal((await post({ origin: 'http://evil.example', 'x-console-csrf': s.csrf })).status, 403, 'a foreign Origin');
    assert.equal((await post({ 'x-console-csrf': s.csrf })).status, 403, 'neither Origin nor Referer');
    assert.equal((await post({ referer: 'http://evil.example/ui/', 'x-console-csrf': s.csrf })).status, 403, 'a foreign Referer');
    assert.equal((await post({ origin: k.url, 'x-console-csrf': s.csrf })).status, 200, 'the right token from the same origin');
    assert.equal((await post({ referer: `${k.url}/ui/`, 'x-console-csrf': s.csrf })).status, 200, 'a same-origin Referer');
    assert.equal((await login(ADMIN, { origin: 'http://evil.example' })).status, 403, 'a login posted from another site');
});

test('issue 13 console: a read-only session sees everything and is refused a change (403)', async () => {
    const ro = await session(READ_ONLY);
    assert.equal(ro.session.read_only, true);
    assert.equal((await http('GET', `${k.url}/ui/api/overview`, { headers: { cookie: ro.cookie } })).status, 200);
    const refused = await http('POST', `${k.url}/ui/api/logout-all`, { headers: { cookie: ro.cookie, origin: k.url, 'x-console-csrf': ro.csrf } });
    assert.equal(refused.status, 403);
    assert.deepEqual(JSON.parse(refused.body), { error: 'read-only session' });
    const rw = await session(ADMIN);
    assert.equal((await http('GET', `${k.url}/ui/api/session`, { headers: { cookie: rw.cookie } })).status, 200, 'the refusal changed nothing');
    // logout ends only that session
    const out = await http('POST', `${k.url}/ui/logout`, { headers: { cookie: ro.cookie, origin: k.url, 'x-console-csrf': ro.csrf } });
    assert.equal(out.status, 200);
    assert.match(out.headers['set-cookie'][0], /^kvedge_console=; Path=\/ui; Max-Age=0;/);
    assert.equal((await http('GET', `${k.url}/ui/api/session`, { headers: { cookie: ro.cookie } })).status, 401);
    assert.equal((await http('GET', `${k.url}/ui/api/session`, { headers: { cookie: rw.cookie } })).status, 200);
});

test('issue 13 console: the overview numbers move after traffic (requests, status classes, latency, cache, store links)', async () => {
    const s = await session(ADMIN);
    const overview = async () => JSON.parse((await http('GET', `${k.url}/ui/api/overview`, { headers: { cookie: s.cookie } })).body);
    const route = (o) => o.routes.find((r) => r.name === 'proxy:/app');
    const before = await overview();
    assert.ok(before.start_time > 0 && before.start_time <= Date.now() / 1000);
    assert.ok(before.open_streams >= 1, 'the overview request itself is open');
    assert.deepEqual(before.stores.map((x) => x.name), ['default']);
    assert.equal(before.stores[0].links.length, 2, 'one link per thread');
    for (const l of before.stores[0].links) assert.equal(l.state, 'up');
    for (let i = 0; i < 5; i++) assert.equal((await http('GET', `${k.url}/app/page`)).status, 200);
    assert.equal((await http('GET', `${k.url}/app-nothing`)).status, 404);
    await waitFor(async () => route(await overview()).requests >= route(before).requests + 5, { message: 'the requests counted' });
    const after = await overview();
    const a = route(after), b = route(before);
    assert.ok(a.status['2xx'] >= b.status['2xx'] + 5);
    assert.equal(typeof a.p50_ms, 'number');
    assert.ok(a.p50_ms > 0 && a.p99_ms >= a.p50_ms);
    assert.ok(a.cache.misses >= b.cache.misses + 1, 'the first GET missed');
    assert.ok(a.cache.hits + a.cache.misses >= b.cache.hits + b.cache.misses + 5);
    await waitFor(async () => route(await overview()).cache.stored_bytes > 0, { message: 'the stored bytes counted' });
    assert.ok(after.routes.find((r) => r.name === 'other').status['4xx'] >= 1, 'the 404 counted');
});

test('issue 13 console: the configuration has no secret of the running file', async () => {
    const s = await session(ADMIN);
    const r = await http('GET', `${k.url}/ui/api/config`, { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200);
    const cfg = JSON.parse(r.body);
    for (const secret of [ADMIN, READ_ONLY, KV_TOKEN, REDIS_PASSWORD]) assert.ok(!r.body.includes(secret), `no ${secret.slice(0, 12)}...`);
    assert.equal(cfg.admin.token, '<redacted>');
    assert.equal(cfg.admin.read_only_token, '<redacted>');
    assert.equal(cfg.admin.console.path, '/ui');
    assert.equal(cfg.routes[0].path, '/app');
    assert.equal(cfg.kv.tokens[0].token, '<redacted>');
});

test('issue 13 console: check answers the -t result of a pasted configuration, never applying it; over 256 KiB is 413', async () => {
    const s = await session(ADMIN);
    const check = (body) => http('POST', `${k.url}/ui/api/check`, { headers: { cookie: s.cookie, origin: k.url, 'x-console-csrf': s.csrf }, body });
    const bad = JSON.parse((await check('listen:\n  - port: 99999\nadmin:\n  tokn: x\n')).body);
    assert.equal(bad.valid, false);
    assert.ok(bad.errors.length >= 2, bad.output);
    assert.ok(bad.errors.some((e) => /port/.test(e)));
    assert.ok(bad.errors.some((e) => /tokn/.test(e)));
    const good = JSON.parse((await check(`listen:\n  - host: 127.0.0.1\n    port: 8080\nroutes:\n  - path: /x\n    upstream: ${upstream.url}/\n`)).body);
    assert.equal(good.valid, true, good.output);
    assert.deepEqual(good.errors, []);
    const missing = JSON.parse((await check('listen:\n  - port: 8080\n    tls:\n      cert_file: no-such.pem\n      key_file: no-such.key\n')).body);
    assert.equal(missing.valid, false);
    assert.ok(missing.output.includes(path.join(path.dirname(k.configPath), 'no-such.pem')), 'relative paths resolve against the running file');
    assert.equal((await http('GET', `${k.url}/app/page`)).status, 200, 'still serving the running configuration');
    const weak = JSON.parse((await check(`listen:\n  - port: 8080\nadmin:\n  token: ${'k'.repeat(18)}Q7\n  read_only_token: ${'a'.repeat(20)}\n`)).body);
    assert.equal(weak.valid, true, weak.output);
    assert.ok(weak.warnings.some((w) => /admin\.read_only_token/.test(w)), weak.output);
    assert.ok(!weak.output.includes('a'.repeat(20)), 'the weak token is not echoed');
    // the daemon's environment never comes back: ${NAME} is a placeholder in the check (here an error quoting it)
    const env = JSON.parse((await check('listen:\n  - port: ${CONSOLE_SECRET_ENV}\n    host: ${CONSOLE_HOST_ENV:-127.0.0.1}\n')).body);
    assert.equal(env.valid, false);
    assert.ok(!env.output.includes('console-env-secret-value'), env.output);
    assert.match(env.output, /environment-placeholder-value/);
    const noToken = JSON.parse((await check('listen:\n  - port: 8080\nadmin:\n  console:\n    enabled: true\n    path: /app\n')).body);
    assert.equal(noToken.valid, false);
    assert.ok(noToken.errors.some((e) => /the console needs admin\.token/.test(e)), noToken.output);
    const clash = JSON.parse((await check(`listen:\n  - port: 8080\nadmin:\n  token: ${'t'.repeat(20)}x9\n  console:\n    enabled: true\n    path: /app\nroutes:\n  - path: /app\n    upstream: ${upstream.url}/\n`)).body);
    assert.equal(clash.valid, false);
    assert.ok(clash.errors.some((e) => /also served by admin\.console\.path/.test(e)), clash.output);
    const big = await check('#'.repeat(256 * 1024 + 1));
    assert.equal(big.status, 413);
});

test('issue 13 console: after 5 failed logins in 10 s, logins are 429 (the right token too) ', async () => {
    const own = await startKvedge({ admin: { token: ADMIN, console: { enabled: true } }, routes: [{ path: '/app', upstream: `${upstream.url}/` }] });
    try {
        const post = (token) => http('POST', `${own.url}/ui/login`, { body: form(token), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: own.url } });
        for (let i = 0; i < 5; i++) assert.equal((await post(`wrong-guess-number-${i}-xxxxxxxx`)).status, 401);
        const limited = await post(ADMIN);
        assert.equal(limited.status, 429);
        assert.equal(limited.headers['retry-after'], '10');
        assert.equal(limited.headers['set-cookie'], undefined);
        assert.equal((await post(ADMIN)).status, 429);
        await waitFor(() => /too many failed logins/.test(own.stderr()), { message: 'the refusal logged' });
        assert.equal(own.stderr().match(/too many failed logins/g).length, 1, 'logged once per window, not per request');
        assert.ok(!own.stderr().includes(ADMIN));
    } finally {
        assertCleanExit(await own.stop());
    }
});

test('issue 13 console: over TLS the login cookie is also Secure', async () => {
    const leaf = makeCerts().leaf({ ip: ['127.0.0.1'] });
    const own = await startKvedge({
        listen: [{ host: '127.0.0.1', tls: { cert_file: leaf.cert, key_file: leaf.key } }],
        admin: { token: ADMIN, console: { enabled: true, path: '/console' } },
    });
    try {
        assert.ok(own.url.startsWith('https://'));
        const r = await http('POST', `${own.url}/console/login`, { body: form(ADMIN), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: own.url } });
        assert.equal(r.status, 303);
        assert.match(r.headers['set-cookie'][0], /^kvedge_console=[0-9a-f]{64}; Path=\/console; Max-Age=43200; HttpOnly; SameSite=Strict; Secure$/);
        const foreign = await http('POST', `${own.url}/console/login`, { body: form(ADMIN), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: own.url.replace('https:', 'http:') } });
        assert.equal(foreign.status, 403, 'the http origin of a TLS listener is another origin');
    } finally {
        assertCleanExit(await own.stop());
    }
});

test('issue 13 console: a reload keeps the console sessions and serves the new configuration (and a console turned off is gone)', async () => {
    const cfg = { admin: { token: ADMIN, console: { enabled: true } }, routes: [{ path: '/app', upstream: `${upstream.url}/` }] };
    const own = await startKvedge(cfg);
    const reload = async (config) => {
        const count = () => (own.stderr().match(/reload: configuration \d+ serving/g) ?? []).length;
        const before = count();
        fs.writeFileSync(own.configPath, JSON.stringify({ ...own.config, ...config }));
        process.kill(own.pid, 'SIGHUP');
        await waitFor(() => count() > before, { timeoutMs: 30_000, message: 'reloaded' });
    };
    try {
        const r = await http('POST', `${own.url}/ui/login`, { body: form(ADMIN), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: own.url } });
        const cookie = r.headers['set-cookie'][0].split(';')[0];
        const config = async () => http('GET', `${own.url}/ui/api/config`, { headers: { cookie } });
        assert.equal(JSON.parse((await config()).body).routes[0].path, '/app');
        await reload({ routes: [{ path: '/other', upstream: `${upstream.url}/` }] });
        const after = await config();
        assert.equal(after.status, 200, 'the session outlived the reload');
        assert.equal(JSON.parse(after.body).routes[0].path, '/other', 'the configuration shown is the new one');
        await reload({ admin: { token: ADMIN }, routes: [{ path: '/other', upstream: `${upstream.url}/` }] });
        assert.equal((await config()).status, 404, 'the console is off after a reload that turns it off');
    } finally {
        assertCleanExit(await own.stop());
    }
});

test('issue 13 console: api/whoami is public: logged_in false without a session, the session with one', async () => {
    const none = await http('GET', `${k.url}/ui/api/whoami`);
    assert.equal(none.status, 200);
    assert.deepEqual(JSON.parse(none.body), { logged_in: false });
    const forged = await http('GET', `${k.url}/ui/api/whoami`, { headers: { cookie: `kvedge_console=${'a'.repeat(64)}` } });
    assert.deepEqual(JSON.parse(forged.body), { logged_in: false });
    const s = await session(ADMIN);
    const me = JSON.parse((await http('GET', `${k.url}/ui/api/whoami`, { headers: { cookie: s.cookie } })).body);
    assert.equal(me.logged_in, true);
    assert.equal(me.csrf, s.csrf);
    assert.equal(me.read_only, false);
});
