// issue 7 (found by the cache conformance runner): a hostile upstream response head that h2o 2.2.5's HTTP/1
// client meets with a failed assertion (SIGABRT, the whole daemon gone) now gets the client a 502 and a log line:
// a Transfer-Encoding other than exactly "chunked" or "identity", or a Content-Length h2o cannot read
// (proxy/h2o_private.h, kve_h2o_http1client_guard).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { HOST, assertCleanExit, http, startKvedge, startUpstream } from './harness.mjs';

let raw; // answers each request with the head its path names
let good;
let k;

const HEADS = {
    'te-gzip': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello',
    'te-upper': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'te-list': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'cl-junk': 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello',
    'cl-huge': 'HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nhello',
    'after-100': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: x\r\n\r\nhello',
    'keepalive-1.0': 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: gzip\r\n\r\nhello',
    split: ['HTTP/1.1 200 OK\r\nTransfer-', 'Encoding: deflate\r\n\r\nhello'],
    fine: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
};

before(async () => {
    raw = net.createServer((sock) => {
        sock.on('error', () => {});
        sock.once('data', (d) => {
            const path = /^GET \/raw\/([^ ]+) /.exec(d.toString('latin1'))?.[1];
            const head = HEADS[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
            if (Array.isArray(head)) {
                sock.write(head[0]);
                setTimeout(() => sock.end(head[1]), 50);
            } else {
                sock.end(head);
            }
        });
    });
    await new Promise((ok) => raw.listen(0, HOST, ok));
    good = await startUpstream((req, res) => res.end('ok'));
    k = await startKvedge({
        threads: 1,
        routes: [
            { path: '/raw', upstream: `http://${HOST}:${raw.address().port}/raw` },
            { path: '/good', upstream: `${good.url}/` },
        ],
    });
});

after(async () => {
    try {
        if (k) assertCleanExit(await k.stop());
    } finally {
        raw?.close();
        await good?.stop();
    }
});

for (const name of ['te-gzip', 'te-upper', 'te-list', 'cl-junk', 'cl-huge', 'after-100', 'keepalive-1.0', 'split']) {
    test(`issue 7: an upstream head h2o's client would abort on (${name}) gets 502, kvedge lives on`, async () => {
        const r = await http('GET', `${k.url}/raw/${name}`);
        assert.equal(r.status, 502, r.body);
        assert.ok(k.running, 'kvedge is still running');
        assert.equal((await http('GET', `${k.url}/good/x`)).status, 200);
        assert.match(k.stderr(), /upstream response refused: a Transfer-Encoding other than chunked or identity/);
    });
}

test('issue 7: a well-formed chunked upstream response still passes', async () => {
    const r = await http('GET', `${k.url}/raw/fine`);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello');
});
