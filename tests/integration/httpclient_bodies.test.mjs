// HTTP client (proxy/httpclient.h): request and response bodies (Content-Length and chunked, both ways,
// 50 MiB streamed with bounded memory), upstreams that close mid-response, and hostile responses.
// Driven through kve_hc_driver against real sockets on 127.0.0.1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { assertCleanExit } from './harness.mjs';
import {
    startDriver, startHttpUpstream, startRawUpstream, waitStats, pattern, sha256, peakRssKiB, getPaused, sleep, SANITIZE, measuredEnv,
} from './httpclient_helpers.mjs';

const MiB = 1 << 20;

test('issue 7 httpclient: request bodies inline, with Content-Length and chunked, reach the upstream intact', async () => {
    const up = await startHttpUpstream();
    const drv = await startDriver({ a: up.url });
    try {
        const inline = await drv.hc('a', '/in', { method: 'POST', body: 'hello body' });
        assert.deepEqual(JSON.parse(inline.body).length, 10);
        assert.equal(up.requests.at(-1).headers['content-length'], '10');

        const cl = await drv.hc('a', '/cl', { method: 'PUT', headers: { 'x-hc-gen-body': '300000', 'x-hc-gen-piece': '7000' } });
        assert.equal(cl.status, 200);
        assert.equal(JSON.parse(cl.body).sha256, sha256(pattern(300000)));
        assert.equal(up.requests.at(-1).headers['content-length'], '300000');

        const ch = await drv.hc('a', '/ch', { method: 'POST', headers: { 'x-hc-gen-body': '300001', 'x-hc-gen-chunked': '1' } });
        assert.equal(JSON.parse(ch.body).sha256, sha256(pattern(300001)));
        assert.equal(up.requests.at(-1).headers['transfer-encoding'], 'chunked');
        assert.equal(up.requests.at(-1).headers['content-length'], undefined);
        assert.equal(up.connections(), 1, 'bodies of all kinds leave the connection reusable');
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

test('issue 7 httpclient: response bodies with Content-Length, chunked, close-delimited, none', async () => {
    const up = await startRawUpstream((sock, head) => {
        const url = head.split(' ')[1];
        if (url === '/cl') sock.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
        else if (url === '/chunked') sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: y\r\n\r\n');
        else if (url === '/split') {
            // chunk framing cut at every awkward place
            const parts = ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r', '\n3', '\r', '\nab', 'c\r', '\n0\r\n', '\r\n'];
            let i = 0;
            const t = setInterval(() => { sock.write(parts[i++]); if (i === parts.length) clearInterval(t); }, 15);
        } else if (url === '/close') sock.end('HTTP/1.1 200 OK\r\n\r\nuntil the end');
        else if (url === '/204') sock.write('HTTP/1.1 204 No Content\r\n\r\n');
        else if (url === '/100') sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else if (url === '/head') sock.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
    });
    const drv = await startDriver({ a: up.url });
    try {
        assert.equal((await drv.hc('a', '/cl')).body, 'hello');
        const ch = await drv.hc('a', '/chunked');
        assert.equal(ch.body, 'hello world');
        assert.equal((await drv.hc('a', '/split')).body, 'abc');
        assert.equal((await drv.hc('a', '/204')).status, 204);
        assert.equal((await drv.hc('a', '/100')).body, 'ok');
        const head = await drv.hc('a', '/head', { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.headers['content-length'], '1234');
        let s = await waitStats(drv, 'a', (s) => s.completed === 6);
        assert.equal(s.connections, 1, 'all of these leave the connection reusable');
        const close = await drv.hc('a', '/close');
        assert.equal(close.body, 'until the end');
        s = await waitStats(drv, 'a', (s) => s.completed === 7);
        assert.equal(s.idle, 0, 'a close-delimited body ends the connection');
        // sink mode: the body as the client decoded it
        const sink = JSON.parse((await drv.hc('a', '/chunked', { headers: { 'x-hc-sink': '1' } })).body);
        assert.equal(sink.bytes, 11);
        assert.equal(sink.sha256, sha256(Buffer.from('hello world')));
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: 50 MiB uploaded streamed (Content-Length and chunked), memory stays bounded', async () => {
    const size = 50 * MiB;
    const expect = sha256(pattern(size));
    const up = await startHttpUpstream();
    const drv = await startDriver({ a: up.url }, { limits: { max_body_size: '1MiB' } }, { env: measuredEnv() });
    try {
        const before = peakRssKiB(drv.pid);
        for (const chunked of [false, true]) {
            const headers = { 'x-hc-gen-body': String(size), 'x-hc-gen-piece': '65536' };
            if (chunked) headers['x-hc-gen-chunked'] = '1';
            const r = await drv.hc('a', '/upload', { method: 'POST', headers, timeoutMs: 60_000 });
            assert.equal(r.status, 200, r.body);
            const got = JSON.parse(r.body);
            assert.equal(got.length, size);
            assert.equal(got.sha256, expect);
        }
        const grew = peakRssKiB(drv.pid) - before;
        assert.ok(grew < 16 * 1024, `peak RSS grew by ${grew} KiB sending 2 x 50 MiB`);
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

function streamingUpstream(size, { chunked }) {
    // writes `size` bytes of the pattern with backpressure, records how far it got
    const state = { written: 0 };
    const piece = pattern(251 * 1024);
    return {
        state,
        handler: (req, res) => {
            res.writeHead(200, chunked ? {} : { 'content-length': size });
            let written = 0;
            const pump = () => {
                while (written < size) {
                    const n = Math.min(piece.length, size - written);
                    written += n;
                    state.written = written;
                    if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) return res.once('drain', pump);
                }
                res.end();
            };
            pump();
        },
    };
}

test('issue 7 httpclient: a 100 MiB response streams through with flow control (slow reader, bounded memory)', async () => {
    // 100 MiB against a 40 MiB bound on RSS growth: a client that buffered the response would pass it by far, while a
    // loaded machine's allocator and socket buffers (32 MiB once under CI load with 50 MiB and a 24 MiB bound) stay under
    const size = 100 * MiB;
    const expect = sha256(pattern(size));
    for (const chunked of [false, true]) {
        const s = streamingUpstream(size, { chunked });
        const up = await startHttpUpstream(s.handler);
        const drv = await startDriver({ a: up.url }, {}, { env: measuredEnv() });
        try {
            const before = peakRssKiB(drv.pid);
            let writtenWhilePaused = 0;
            const r = await getPaused(`${drv.url}/_hc/a/big`, {
                pauseMs: 1000,
                onPaused: () => { writtenWhilePaused = s.state.written; },
            });
            assert.equal(r.status, 200);
            assert.ok(r.complete);
            assert.equal(r.bytes, size);
            assert.equal(r.sha256, expect);
            // while the reader paused, the upstream could only fill the socket buffers of both hops
            assert.ok(writtenWhilePaused < 24 * MiB, `upstream wrote ${writtenWhilePaused} bytes while the reader paused`);
            const grew = peakRssKiB(drv.pid) - before;
            assert.ok(grew < 40 * 1024, `peak RSS grew by ${grew} KiB for a 100 MiB response (${chunked ? 'chunked' : 'length'})`);
            // and through the sink (decoded by the client, hashed in the driver)
            const sr = await drv.hc('a', '/big', { headers: { 'x-hc-sink': '1' }, timeoutMs: 60_000 });
            assert.equal(sr.status, 200, sr.body);
            const sink = JSON.parse(sr.body);
            assert.equal(sink.bytes, size);
            assert.equal(sink.sha256, expect);
        } finally {
            assertCleanExit(await drv.stop());
            await up.stop();
        }
    }
});

test('issue 7 httpclient: an upstream that closes mid-response is an error, never a truncated success', async () => {
    const up = await startRawUpstream((sock, head) => {
        const url = head.split(' ')[1];
        if (url.startsWith('/cl')) sock.write(`HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(500)}`);
        else if (url.startsWith('/chunk-boundary')) sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
        else if (url.startsWith('/chunk-middle')) sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhel');
        else if (url.startsWith('/head')) sock.write('HTTP/1.1 200 OK\r\nContent-Le');
        else if (url.startsWith('/nothing')) { /* just close */ }
        setTimeout(() => sock.end(), 30);
    });
    const drv = await startDriver({ a: `${up.url},io_timeout=5000` });
    try {
        for (const p of ['/cl', '/chunk-boundary', '/chunk-middle', '/head', '/nothing']) {
            const r = await drv.hc('a', p, { headers: { 'x-hc-sink': '1' } });
            assert.equal(r.status, 502, `${p}: ${r.body}`);
            assert.equal(r.headers['x-hc-error'], 'UPSTREAM_CLOSED', p);
            assert.match(r.body, /closed/);
        }
        // streamed to the client: the response has started, so it is aborted (no clean end) rather than cut short as a success
        for (const p of ['/cl', '/chunk-boundary']) {
            const r = await getPaused(`${drv.url}/_hc/a${p}`);
            assert.equal(r.complete, false, `${p} must not end as a complete response`);
        }
        const s = await drv.stats('a');
        assert.equal(s.completed, 0);
        assert.equal(s.idle, 0);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

const GARBAGE = {
    'not http': ['garbage\r\n\r\n', 'UPSTREAM_PROTO'],
    'bad status': ['HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n', 'UPSTREAM_PROTO'],
    'http/2 version': ['HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n', 'UPSTREAM_PROTO'],
    'binary': [crypto.randomBytes(64).toString('latin1') + '\r\n\r\n', 'UPSTREAM_PROTO'],
    'header without colon': ['HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n', 'UPSTREAM_PROTO'],
    'space before colon': ['HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n', 'UPSTREAM_PROTO'],
    'obs-fold': ['HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n', 'UPSTREAM_PROTO'],
    'bare LF': ['HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'UPSTREAM_PROTO'],
    'control char in value': ['HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n', 'UPSTREAM_PROTO'],
    'CL and TE': ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'UPSTREAM_PROTO'],
    'two CLs': ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 'UPSTREAM_PROTO'],
    'negative CL': ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'UPSTREAM_PROTO'],
    'huge CL digits': ['HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n', 'UPSTREAM_PROTO'],
    'TE gzip': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', 'UPSTREAM_PROTO'],
    '101': ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', 'UPSTREAM_PROTO'],
    'bad chunk size': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', 'UPSTREAM_PROTO'],
    'chunk size overflow': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n', 'UPSTREAM_PROTO'],
    'no CRLF after chunk': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n', 'UPSTREAM_PROTO'],
    'chunk line too long': [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;${'e'.repeat(5000)}\r\nabc\r\n0\r\n\r\n`, 'UPSTREAM_PROTO'],
    'huge header': [`HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(100_000)}\r\nContent-Length: 0\r\n\r\n`, 'UPSTREAM_TOO_LARGE'],
    'too many headers': [`HTTP/1.1 200 OK\r\n${'X-H: 1\r\n'.repeat(150)}Content-Length: 0\r\n\r\n`, 'UPSTREAM_TOO_LARGE'],
    'endless head': [`HTTP/1.1 200 OK\r\n${'X-H: 1\r\n'.repeat(1)}${'y'.repeat(2 * MiB)}`, 'UPSTREAM_TOO_LARGE'],
};

test('issue 7 httpclient: hostile responses fail the request cleanly with a clear error', async () => {
    const names = Object.keys(GARBAGE);
    const up = await startRawUpstream((sock, head) => {
        const name = decodeURIComponent(head.split(' ')[1].slice(1));
        if (name === 'ok') return sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        sock.write(Buffer.from(GARBAGE[name][0], 'latin1'));
    });
    const drv = await startDriver({ a: `${up.url},io_timeout=5000` });
    try {
        for (const name of names) {
            const r = await drv.hc('a', `/${encodeURIComponent(name)}`, { headers: { 'x-hc-sink': '1' } });
            assert.equal(r.headers['x-hc-error'], GARBAGE[name][1], `${name}: ${r.status} ${r.body}`);
            assert.equal(r.status, 502, name);
        }
        assert.equal((await drv.hc('a', '/ok')).body, 'ok', 'the driver is fine afterwards');
        const s = await drv.stats('a');
        assert.equal(s.failed, names.length);
        assert.equal(s.connections, names.length + 1, 'no connection that saw garbage was reused');
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: bytes after a complete response make the connection unusable (not reused)', async () => {
    const up = await startRawUpstream((sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA'));
    const drv = await startDriver({ a: up.url });
    try {
        assert.equal((await drv.hc('a', '/1')).body, 'ok');
        assert.equal((await drv.hc('a', '/2')).body, 'ok');
        const s = await drv.stats('a');
        assert.equal(s.connections, 2);
        assert.equal(s.reused, 0);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: an upstream answering before reading the whole request body', async () => {
    const up = await startHttpUpstream((req, res) => {
        res.writeHead(413, { 'content-length': 8, connection: 'close' });
        res.end('too big\n');
    });
    const drv = await startDriver({ a: up.url });
    try {
        const r = await drv.hc('a', '/early', { method: 'POST', headers: { 'x-hc-gen-body': String(20 * MiB) }, timeoutMs: 30_000 });
        // either the early answer arrives, or the write fails first: never a hang, never a crash
        assert.ok(r.status === 413 || (r.status === 502 && /UPSTREAM_(IO|CLOSED)/.test(r.headers['x-hc-error'])), `${r.status} ${r.body}`);
        await sleep(50);
        assert.equal((await drv.stats('a')).inflight, 0);
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

