// The upstream of examples/sessions.yaml: an app that knows nothing about Redis or cookies. It reads the session
// from the X-Session-JWT request header (HS256, verified with node's crypto: a standard library, no JWT package),
// and changes it with response headers kvedge consumes and strips: X-Session-Login, X-Session-Set,
// X-Session-Logout. Run: SESSION_JWT_KEY=... node examples/session-app.mjs (the same key as kvedge's session.jwt_key).
import crypto from 'node:crypto';
import http from 'node:http';

const KEY = process.env.SESSION_JWT_KEY ?? 'kvedge-sessions-example-key-change-me-0123456789';
const PORT = Number(process.env.PORT ?? 8082);

/** The verify helper: the claims of a valid token for audience `aud`, or null. Pin the algorithm, check exp and aud. */
export function verifySessionJwt(token, aud, key = KEY, now = Date.now() / 1000) {
    if (typeof token !== 'string' || token.length > 8192) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [h, p, s] = parts;
    let header, claims;
    try {
        header = JSON.parse(Buffer.from(h, 'base64url'));
        claims = JSON.parse(Buffer.from(p, 'base64url'));
    } catch {
        return null;
    }
    if (header.alg !== 'HS256') return null; // never take the algorithm from the token
    const want = crypto.createHmac('sha256', key).update(`${h}.${p}`).digest();
    const got = Buffer.from(s, 'base64url');
    if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) return null;
    if (claims.iss !== 'kvedge' || claims.aud !== aud || !Number.isInteger(claims.exp) || claims.exp <= now - 5) return null;
    return claims;
}

http.createServer((req, res) => {
    const url = new URL(req.url, 'http://app');
    const session = verifySessionJwt(req.headers['x-session-jwt'], 'app');
    const headers = { 'content-type': 'application/json' };
    let body = { status: req.headers['x-session-status'], user: session?.sub ?? null, data: session?.data ?? {} };
    if (url.pathname === '/login' && url.searchParams.get('user')) {
        headers['x-session-login'] = JSON.stringify({ sub: url.searchParams.get('user'), data: { theme: 'light' } });
        body = { welcome: url.searchParams.get('user') };
    } else if (url.pathname === '/set') {
        headers['x-session-set'] = JSON.stringify(Object.fromEntries(url.searchParams));
    } else if (url.pathname === '/logout') {
        headers['x-session-logout'] = 'current';
        body = { bye: session?.sub ?? null };
    }
    res.writeHead(200, headers);
    res.end(`${JSON.stringify(body)}\n`);
}).listen(PORT, '127.0.0.1', () => console.log(`session app on http://127.0.0.1:${PORT}/`));
