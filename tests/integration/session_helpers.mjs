// Shared by the session_*.test.mjs suites (issue 10): a recording upstream that emits X-Session-* commands on demand
// and verifies the JWT it receives with node's crypto (as an upstream would, with a standard library), and a kvedge
// with session routes on a real redis-server.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { http, startKvedge, startUpstream } from './harness.mjs';

export const KEY = 'session-test-key-0123456789abcdef-0123456789';

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
export function startSessions(redis, app, session = {}, extra = {}) {
    const base = { jwt_key: KEY, store_timeout: '2s', ...session };
    return startKvedge({
        threads: 1,
        redis: redis.url,
        routes: [
            { path: '/app', upstream: `${app.url}/`, session: { mode: 'optional', write: true, ...base } },
            { path: '/req', upstream: `${app.url}/`, session: { mode: 'required', write: true, ...base } },
            { path: '/ro', upstream: `${app.url}/`, session: { mode: 'optional', write: false, ...base } },
        ],
        ...extra,
    });
}

/** A request through kvedge with the session cookie `cookie` (a handle, or a raw Cookie header when it has '='). */
export function req(k, path, cookie, headers = {}, method = 'GET') {
    const h = { ...headers };
    if (cookie) h.cookie = cookie.includes('=') ? cookie : `__Host-sid=${cookie}`;
    return http(method, `${k.url}${path}`, { headers: h });
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
