#!/usr/bin/env node
// A tiny upstream API to put behind kvedge (`make run` starts it on 127.0.0.1:8081).
// Node built-ins only. PORT=8081 by default; binds 127.0.0.1 only.
//
//   GET  /            JSON index of these routes
//   GET  /time        server time, Cache-Control: public, max-age=5
//   GET  /items/:id   an item, Cache-Control: public, max-age=60, ETag (If-None-Match -> 304)
//   GET  /greeting    a greeting in the Accept-Language asked for, max-age=60, Vary: Accept-Language
//   GET  /catalog     a page of items (?page=N&size=N), max-age=30, ETag and Last-Modified
//   GET  /me          the caller's private profile (from its Cookie): Cache-Control: no-store
//   GET  /login       sets a session cookie (Set-Cookie; max-age=60, but a shared cache must not store it)
//   GET  /random      a random number, no freshness information at all (not cached unless default_ttl says so)
//   POST /echo        echoes the JSON body back
//   GET  /slow?ms=N   answers after N ms (max 60000)
//   GET  /headers     the request headers as received (shows what the proxy forwards)
import http from 'node:http';
import crypto from 'node:crypto';

const PORT = Number(process.env.PORT ?? 8081);
const HOST = '127.0.0.1';
const MAX_BODY = 1 << 20;
const STARTED = new Date(Math.floor(Date.now() / 1000) * 1000); // Last-Modified of the catalog
const GREETINGS = { en: 'Hello', de: 'Hallo', fr: 'Bonjour', es: 'Hola', it: 'Ciao' };

const routes = {
    'GET /': 'this index',
    'GET /time': 'server time (Cache-Control: public, max-age=5)',
    'GET /items/:id': 'an item (Cache-Control: public, max-age=60, ETag)',
    'GET /greeting': 'a greeting in your Accept-Language (max-age=60, Vary: Accept-Language)',
    'GET /catalog?page=N&size=N': 'a page of items (max-age=30, ETag, Last-Modified)',
    'GET /me': 'your private profile, from your cookie (no-store)',
    'GET /login': 'sets a session cookie (Set-Cookie, max-age=60)',
    'GET /random': 'a random number (no Cache-Control)',
    'POST /echo': 'echoes a JSON body',
    'GET /slow?ms=N': 'answers after N milliseconds',
    'GET /headers': 'the request headers as received',
};

function send(res, status, obj, headers = {}) {
    const body = JSON.stringify(obj, null, 2) + '\n';
    res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        ...headers,
    });
    res.end(body);
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        req.on('data', (c) => {
            size += c.length;
            if (size > MAX_BODY) {
                reject(Object.assign(new Error('body too large'), { status: 413 }));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
    });
}

async function handle(req, res) {
    const url = new URL(req.url, `http://${HOST}:${PORT}`);
    const p = url.pathname;
    const isGet = req.method === 'GET' || req.method === 'HEAD';

    if (isGet && p === '/') return send(res, 200, { name: 'kvedge demo API', routes });

    if (isGet && p === '/time') {
        const now = new Date();
        return send(res, 200, { time: now.toISOString(), epoch_ms: now.getTime() }, { 'cache-control': 'public, max-age=5' });
    }

    const item = /^\/items\/([^/]+)$/.exec(p);
    if (isGet && item) {
        const id = decodeURIComponent(item[1]);
        const body = { id, name: `item ${id}`, price: (id.length * 7 + 3) % 100 };
        const etag = `"${crypto.createHash('sha1').update(JSON.stringify(body)).digest('hex').slice(0, 16)}"`;
        const headers = { 'cache-control': 'public, max-age=60', etag };
        const inm = req.headers['if-none-match'];
        if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
            res.writeHead(304, headers);
            return res.end();
        }
        return send(res, 200, body, headers);
    }

    if (isGet && p === '/greeting') {
        // the first supported language of Accept-Language (quality values ignored: a demo)
        const langs = (req.headers['accept-language'] ?? '').split(',').map((l) => l.split(';')[0].trim().slice(0, 2).toLowerCase());
        const lang = langs.find((l) => l in GREETINGS) ?? 'en';
        return send(res, 200, { greeting: `${GREETINGS[lang]}!`, lang, at: new Date().toISOString() },
            { 'cache-control': 'public, max-age=60', vary: 'Accept-Language', 'content-language': lang });
    }

    if (isGet && p === '/catalog') {
        const page = Math.min(Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1), 1000);
        const size = Math.min(Math.max(Number(url.searchParams.get('size') ?? 5) || 5, 1), 50);
        const items = Array.from({ length: size }, (_, i) => ({ id: (page - 1) * size + i + 1 }));
        const body = { page, size, items };
        const etag = `"c-${page}-${size}"`;
        const headers = { 'cache-control': 'public, max-age=30', etag, 'last-modified': STARTED.toUTCString() };
        const inm = req.headers['if-none-match'];
        if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
            res.writeHead(304, headers);
            return res.end();
        }
        return send(res, 200, { ...body, at: new Date().toISOString() }, headers);
    }

    if (isGet && p === '/me') {
        const session = /(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie ?? '')?.[1] ?? null;
        return send(res, 200, { user: session ? `user-${session}` : 'anonymous', session, at: new Date().toISOString() },
            { 'cache-control': 'no-store' });
    }

    if (isGet && p === '/login') {
        const session = crypto.randomBytes(8).toString('hex');
        return send(res, 200, { session, at: new Date().toISOString() },
            { 'cache-control': 'max-age=60', 'set-cookie': `session=${session}; Path=/; HttpOnly; SameSite=Lax` });
    }

    if (isGet && p === '/random') return send(res, 200, { random: crypto.randomInt(1_000_000), at: new Date().toISOString() });

    if (req.method === 'POST' && p === '/echo') {
        const raw = (await readBody(req)).toString('utf8');
        let json;
        try {
            json = raw === '' ? null : JSON.parse(raw);
        } catch {
            return send(res, 400, { error: 'body is not valid JSON' });
        }
        return send(res, 200, { echo: json });
    }

    if (isGet && p === '/slow') {
        const ms = Math.min(Math.max(Number(url.searchParams.get('ms') ?? 1000) || 0, 0), 60_000);
        await new Promise((r) => setTimeout(r, ms));
        return send(res, 200, { slept_ms: ms });
    }

    if (isGet && p === '/headers') {
        return send(res, 200, { method: req.method, url: req.url, httpVersion: req.httpVersion, headers: req.headers });
    }

    return send(res, 404, { error: 'not found', routes });
}

const server = http.createServer((req, res) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${res.statusCode} ${ms.toFixed(1)}ms`);
    });
    handle(req, res).catch((e) => {
        if (!res.headersSent) send(res, e.status ?? 500, { error: e.message });
        else res.destroy();
    });
});
server.keepAliveTimeout = 65_000; // longer than kvedge's upstream keepalive_timeout: the proxy closes first
server.headersTimeout = 70_000;
server.on('connection', (sock) => sock.setNoDelay(true));
server.on('error', (e) => {
    console.error(`demo-api: ${e.message}`);
    process.exit(1);
});
server.listen({ host: HOST, port: PORT, backlog: 1024 }, () => {
    console.log(`demo-api listening on http://${HOST}:${server.address().port}/`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
        server.close(() => process.exit(0));
        server.closeAllConnections();
    });
}
