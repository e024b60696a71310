#!/usr/bin/env node
// A tiny upstream API to put behind kvedge (`make run` starts it on 127.0.0.1:8081).
// Node built-ins only. PORT=8081 by default; binds 127.0.0.1 only.
//
//   GET  /            JSON index of these routes
//   GET  /time        server time, Cache-Control: public, max-age=5
//   GET  /items/:id   an item, Cache-Control: public, max-age=60, ETag (If-None-Match -> 304)
//   POST /echo        echoes the JSON body back
//   GET  /slow?ms=N   answers after N ms (max 60000)
//   GET  /headers     the request headers as received (shows what the proxy forwards)
import http from 'node:http';
import crypto from 'node:crypto';

const PORT = Number(process.env.PORT ?? 8081);
const HOST = '127.0.0.1';
const MAX_BODY = 1 << 20;

const routes = {
    'GET /': 'this index',
    'GET /time': 'server time (Cache-Control: public, max-age=5)',
    'GET /items/:id': 'an item (Cache-Control: public, max-age=60, ETag)',
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
