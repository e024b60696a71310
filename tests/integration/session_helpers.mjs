// Shared by the session_*.test.mjs suites (issue 10): a recording upstream that emits X-Session-* commands on demand
// and verifies the JWT it receives with node's crypto (as an upstream would, with a standard library), and a kvedge
// with session routes on a real redis-server.
import { after, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { HOST, assertCleanExit, freePort, http, startKvedge, startRedis, startUpstream } from './harness.mjs';

export const KEY = 'session-test-key-0123456789abcdef-0123456789';

/**
 * The session store of the suites (F16, backend parity): `redis` (the default: the route's store is the test's
 * redis-server through hiredis) or `rest` (KVEDGE_SESSION_STORE=rest, the `integration_rest.session_*` ctest
 * entries): the same kvedge also serves its KV REST API at /_kv on that redis-server, and the routes' sessions live
 * in a KV REST store whose URL is that API, so every LOAD / CREATE / PATCH / DESTROY goes through the KV REST driver
 * over HTTP (as conformance.cache_rest does for the cache). The keys land in the same redis-server, so the suites'
 * checks of the store hold in both modes.
 */
export const STORE_MODE = process.env.KVEDGE_SESSION_STORE === 'rest' ? 'rest' : 'redis';
const REST_TOKEN = 'session-suite-rest-store-token-0123456789';
let restKvedges = 0;

// In rest mode a suite whose kvedges bypass these helpers would repeat its Redis run and call it F16: fail it.
after(() => {
    if (STORE_MODE === 'rest') {
        assert.ok(restKvedges > 0, 'KVEDGE_SESSION_STORE=rest, but this suite started no kvedge through startSessions / ' +
            'startSessionKvedge / restStoreYaml (session_helpers.mjs): its sessions never used the KV REST driver');
    }
});

/**
 * A raw YAML configuration (kvedge listening on `port`, with a top-level `session:` block and no `kv:`, `stores:`
 * nor `log:`) in the suites' store mode: in rest mode the sessions' store becomes this kvedge's own /_kv, and the
 * access log goes to stdout (to see the /_kv calls). Unchanged in redis mode.
 */
export function restStoreYaml(yaml, port) {
    if (STORE_MODE !== 'rest') return yaml;
    assert.match(yaml, /^session:/m);
    assert.doesNotMatch(yaml, /^(kv|stores|log):/m);
    ++restKvedges;
    return yaml.replace(/^session:.*$/m, (line) => `${line}\n  store: sessions_rest`) +
        `\nkv:\n  path: /_kv\n  tokens:\n    - token: ${REST_TOKEN}\n` +
        `stores:\n  sessions_rest:\n    url: http://${HOST}:${port}/_kv\n    token: ${REST_TOKEN}\n    command_timeout: 5s\n` +
        'log:\n  access_log: "-"\n';
}

/**
 * S15: every cookie value (handle) and JWT the suites saw, and what they are made of (the handle's 43-character
 * secret, the hash that names its store key, the JWT's signature). startSessions' kvedges are checked at their
 * stop() against this set: their whole output (error log at level debug, access log on stdout) holds none of them.
 */
export const SEEN_SECRETS = new Set();

/** Records a handle or a JWT as a secret no log may hold (S15). */
export function rememberSecret(v) {
    if (typeof v !== 'string' || v.length === 0) return;
    if (/^[A-Za-z0-9_-]{54}$/.test(v)) {
        SEEN_SECRETS.add(v);
        SEEN_SECRETS.add(v.slice(11));
        SEEN_SECRETS.add(crypto.createHash('sha256').update(v).digest('hex'));
    } else if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20,}$/.test(v)) {
        SEEN_SECRETS.add(v);
        SEEN_SECRETS.add(v.split('.')[2]);
    }
}

/** The secrets of SEEN_SECRETS that `text` holds (S15). */
export function leakedSecrets(text) {
    return [...SEEN_SECRETS].filter((s) => text.includes(s));
}

/**
 * The upstream. Paths (after the route prefix is replaced by "/"):
 *   /login?u=<id>[&d=<json data>]   200, X-Session-Login: {"sub": id, "data": ...}
 *   /set?j=<json object>            200, X-Session-Set: <json>
 *   /logout[?all]                   200, X-Session-Logout: current (or all)
 *   /raw?h=<name>&v=<value>         200 with that response header (anything, e.g. a malformed command)
 *   anything else                   200, a JSON echo of the request headers
 */
export async function startApp() {
    return startUpstream((req, res) => {
        rememberSecret(req.headers['x-session-jwt']);
        const url = new URL(req.url, 'http://x');
        const headers = { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' };
        if (url.pathname === '/login') {
            const cmd = { sub: url.searchParams.get('u') };
            if (url.searchParams.has('d')) cmd.data = JSON.parse(url.searchParams.get('d'));
            headers['x-session-login'] = JSON.stringify(cmd);
        } else if (url.pathname === '/set') {
            headers['x-session-set'] = url.searchParams.get('j');
        } else if (url.pathname === '/logout') {
            headers['x-session-logout'] = url.searchParams.has('all') ? 'all' : 'current';
        } else if (url.pathname === '/raw') {
            headers[url.searchParams.get('h')] = url.searchParams.get('v');
        }
        const body = JSON.stringify({ url: req.url, headers: req.headers });
        res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(body) });
        res.end(body);
    });
}

/** Verifies an HS256 JWT with `key` (node's crypto only); returns its claims or throws. */
export function verifyJwt(token, key = KEY) {
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    assert.equal(header.alg, 'HS256');
    const mac = crypto.createHmac('sha256', key).update(`${h}.${p}`).digest();
    assert.ok(crypto.timingSafeEqual(mac, Buffer.from(s, 'base64url')), 'the signature verifies');
    return JSON.parse(Buffer.from(p, 'base64url'));
}

/** The session route /app (optional, write), /req (required), /ro (optional, no write) on `redis`; `session` overrides. */
export async function startSessions(redis, app, session = {}, extra = {}) {
    const base = { jwt_key: KEY, store_timeout: '2s', ...session };
    const cfg = {
        threads: 1,
        redis: redis.url,
        log: { level: 'debug', access_log: '-' },
        routes: [
            { path: '/app', upstream: `${app.url}/`, session: { mode: 'optional', write: true, ...base } },
            { path: '/req', upstream: `${app.url}/`, session: { mode: 'required', write: true, ...base } },
            { path: '/ro', upstream: `${app.url}/`, session: { mode: 'optional', write: false, ...base } },
        ],
        ...extra,
    };
    return startSessionKvedge(cfg);
}

/**
 * Starts kvedge with `cfg` (a config object whose routes have `session:` blocks) in the suites' store mode
 * (STORE_MODE: in `rest` mode every session store is moved onto a KV REST store served by this kvedge's own /_kv),
 * and checks at stop() that its output holds no secret seen (S15; the check runs after the process exited).
 */
export async function startSessionKvedge(config) {
    const cfg = structuredClone(config);
    if (STORE_MODE === 'rest') {
        const port = await freePort();
        cfg.listen = [{ host: HOST, port }];
        cfg.kv = { path: '/_kv', tokens: [{ token: REST_TOKEN }], ...(cfg.kv ?? {}) };
        cfg.stores = { ...(cfg.stores ?? {}),
            sessions_rest: { url: `http://${HOST}:${port}/_kv`, token: REST_TOKEN, command_timeout: '5s', connect_timeout: '1s' } };
        for (const route of cfg.routes ?? []) if (route.session && typeof route.session === 'object') route.session.store = 'sessions_rest';
        if (cfg.session && typeof cfg.session === 'object') cfg.session.store = 'sessions_rest';
        ++restKvedges;
    }
    const k = await startKvedge(cfg);
    const stop = k.stop.bind(k);
    k.stop = async (opts) => {
        const result = await stop(opts);
        const leaked = leakedSecrets(`${result.stdout ?? ''}\n${result.stderr ?? ''}`);
        assert.deepEqual(leaked.map((s) => `${s.slice(0, 6)}... (${s.length} chars)`), [], 'S15: a cookie value, a store key hash or a JWT is in kvedge\'s logs');
        return result;
    };
    return k;
}

/** A request through kvedge with the session cookie `cookie` (a handle, or a raw Cookie header when it has '='). */
export function req(k, path, cookie, headers = {}, method = 'GET') {
    const h = { ...headers };
    if (cookie) h.cookie = cookie.includes('=') ? cookie : `__Host-sid=${cookie}`;
    if (cookie && !cookie.includes('=')) rememberSecret(cookie);
    return http(method, `${k.url}${path}`, { headers: h }).then((r) => {
        for (const c of setCookies(r)) rememberSecret(/^[^=]*=([^;]*)/.exec(c)?.[1]);
        return r;
    });
}

/** The Set-Cookie lines of a response. */
export function setCookies(r) {
    const v = r.headers['set-cookie'];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** The handle a response's one Set-Cookie sets (asserting there is exactly one, and it is not a clearing one). */
export function handleOf(r) {
    const c = setCookies(r);
    assert.equal(c.length, 1, `one Set-Cookie: ${JSON.stringify(c)}`);
    const m = /^__Host-sid=([A-Za-z0-9_-]{54}); Path=\/; Secure; HttpOnly; SameSite=Lax$/.exec(c[0]);
    assert.ok(m, `a session cookie: ${c[0]}`);
    return m[1];
}

/** Whether a response clears the cookie. */
export function clears(r) {
    return setCookies(r).some((c) => /^__Host-sid=; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=0$/.test(c));
}

/** The store key of a handle: kvs1:{<tag>}:s:<sha256 hex of the handle>. */
export function keyOf(handle) {
    return `kvs1:{${handle.slice(0, 11)}}:s:${crypto.createHash('sha256').update(handle).digest('hex')}`;
}

/** No header of a response to a client is kvedge's own. */
export function assertNoSessionHeaders(r) {
    for (const name of Object.keys(r.headers)) assert.ok(!/^x[-_]session[-_]/i.test(name), `${name} reached the client`);
}

/** What the upstream saw last. */
export function lastSeen(app) {
    return app.requests[app.requests.length - 1];
}

/**
 * The fixture most session suites share: one redis-server and one recording upstream (startApp) for the file, the store
 * flushed and the upstream's record cleared before each test. `onReady({redis, app, client})` runs once they are up.
 */
export function useSessionFixture(onReady) {
    let f;
    before(async () => {
        const redis = await startRedis();
        f = { redis, app: await startApp(), client: redis.client() };
        onReady(f);
    });
    after(async () => {
        await f?.app.stop();
        await f?.redis.stop();
    });
    beforeEach(async () => {
        await f.client.flushall();
        f.app.requests.length = 0;
    });
}

/** Runs `fn(k)` with a kvedge of startSessions(redis, app, session, extra), then stops it and asserts a clean exit. */
export async function withSessions(redis, app, session, fn, extra = {}) {
    const k = await startSessions(redis, app, session, extra);
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}
