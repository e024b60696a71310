// A short verify helper for kvedge's X-Session-JWT (issue 10), for upstreams in Node: node's crypto only, no JWT
// package. The algorithm is pinned by the caller, never read from the token: HS256 with the route's jwt_key, or
// ES256 with kvedge's JWKS (<session.endpoint>/.well-known/jwks.json). Checks the shape, the signature (constant
// time), iss, aud, exp, nbf and iat (integers, 5 s of skew). Returns the claims, or null.
//
//   import { verifySessionJwt } from './session-verify.mjs';
//   const s = verifySessionJwt(req.headers['x-session-jwt'], { key: process.env.SESSION_JWT_KEY, audience: 'app' });
//   if (s) { s.sub; s.data; s.sid; s.sver }        // the user (absent: anonymous), the session's data, its public id
//
// From a shell: SESSION_JWT_KEY=... node examples/session-verify.mjs TOKEN AUDIENCE   (prints the claims; exit 1)
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const B64URL = /^[A-Za-z0-9_-]+$/;

function part(s) {
    try {
        const v = JSON.parse(Buffer.from(s, 'base64url'));
        return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
    } catch {
        return null;
    }
}

function signatureOk(alg, h, p, sig, { key, jwks }, kid) {
    const data = Buffer.from(`${h}.${p}`);
    if (alg === 'HS256') {
        const want = crypto.createHmac('sha256', key).update(data).digest();
        return sig.length === want.length && crypto.timingSafeEqual(sig, want);
    }
    const jwk = jwks.keys?.find((k) => k.kid === kid && k.kty === 'EC' && k.crv === 'P-256');
    if (!jwk || sig.length !== 64) return false;
    const pub = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    return crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
}

/**
 * The claims of `token` if it is a valid session JWT, else null. opts: {key} (HS256) or {jwks} (ES256), audience
 * (required: the route's session.audience, default its path), issuer ('kvedge'), skew (5 s), now (seconds).
 */
export function verifySessionJwt(token, { key, jwks, audience, issuer = 'kvedge', skew = 5, now = Date.now() / 1000 } = {}) {
    const alg = key ? 'HS256' : jwks ? 'ES256' : null;
    if (!alg || typeof audience !== 'string' || typeof token !== 'string' || token.length > 8192) return null;
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((s) => B64URL.test(s))) return null;
    const [h, p, s] = parts;
    const header = part(h), claims = part(p), sig = Buffer.from(s, 'base64url');
    if (!header || !claims || header.alg !== alg || sig.toString('base64url') !== s) return null; // pinned, canonical
    if (!signatureOk(alg, h, p, sig, { key, jwks }, header.kid)) return null;
    const int = (n) => claims[n] === undefined || Number.isInteger(claims[n]);
    if (claims.iss !== issuer || claims.aud !== audience || !Number.isInteger(claims.exp) || !int('nbf') || !int('iat')) return null;
    if (claims.exp <= now - skew || (claims.nbf ?? 0) > now + skew || (claims.iat ?? 0) > now + skew) return null;
    if (claims.sub !== undefined && typeof claims.sub !== 'string') return null;
    return claims;
}

/**
 * The X-Session-Sig value for the X-Session-* commands `cmds` ({login, set, rotate, logout}: the header values exactly
 * as sent) when the route has session.command_key (strict-signature mode, docs/sessions.md §7): base64url of
 * HMAC-SHA256(commandKey, canonical), canonical = "x-session-<name>:<value>\n" for each command present, in the order
 * login, set, rotate, logout.
 *
 *   const cmds = { login: JSON.stringify({ sub: 'alice' }) };
 *   res.setHeader('X-Session-Login', cmds.login);
 *   res.setHeader('X-Session-Sig', signCommands(cmds, process.env.SESSION_COMMAND_KEY));
 */
export function signCommands(cmds, commandKey) {
    let canonical = '';
    for (const name of ['login', 'set', 'rotate', 'logout']) {
        if (cmds[name] !== undefined && cmds[name] !== null) canonical += `x-session-${name}:${cmds[name]}\n`;
    }
    return crypto.createHmac('sha256', commandKey).update(canonical).digest('base64url');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const [token, audience] = process.argv.slice(2);
    const claims = verifySessionJwt(token, { key: process.env.SESSION_JWT_KEY, audience });
    if (!claims) {
        console.error('session-verify: not a valid session JWT for this key and audience');
        process.exit(1);
    }
    console.log(JSON.stringify(claims, null, 2));
}
