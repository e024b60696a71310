// HTTP client (proxy/httpclient.h): cancellation by the caller at every stage (queued, connecting, waiting
// for the head, in the body, from inside its own callbacks, the downstream client leaving). After each, no
// callback reaches the caller (the driver would crash on a freed request: ASan build), nothing leaks (LSan
// at the clean exit), the slot is given back and the upstream connection is closed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http_ from 'node:http';

import { assertCleanExit } from './harness.mjs';
import {
    startDriver, startRawUpstream, startHttpUpstream, startBlackhole, waitStats, pattern, sleep,
} from './httpclient_helpers.mjs';

function closeWatchingUpstream(respond) {
    const closed = [];
    return {
        closed,
        start: () =>
            startRawUpstream((sock, head, index) => {
                sock.on('close', () => closed.push(head.split(' ')[1]));
                respond?.(sock, head, index);
            }),
    };
}

test('issue 7 httpclient: cancel while queued, connecting, and waiting for the head', async () => {
    const w = closeWatchingUpstream(); // never answers
    const up = await w.start();
    const hole = await startBlackhole();
    const drv = await startDriver({
        a: `${up.url},max_inflight=1,max_queue=4,io_timeout=10000`,
        hole: `http://127.0.0.1:${hole.port},connect_timeout=10000`,
    });
    try {
        const holder = drv.hc('a', '/holder', { headers: { 'x-hc-cancel-after-ms': '600' } });
        await waitStats(drv, 'a', (s) => s.inflight === 1);
        const queued = await drv.hc('a', '/queued', { headers: { 'x-hc-cancel-after-ms': '100' } });
        assert.equal(queued.status, 499);
        assert.equal(queued.headers['x-hc-error'], 'CANCELLED');
        let s = await drv.stats('a');
        assert.equal(s.queued, 0);
        assert.equal(s.inflight, 1);
        const h = await holder; // cancelled while waiting for the head
        assert.equal(h.status, 499);
        s = await waitStats(drv, 'a', (s) => s.inflight === 0);
        assert.equal(s.cancelled, 2);
        assert.equal(s.failed, 0);
        await waitStats(drv, 'a', () => w.closed.includes('/holder'), 'the upstream saw the connection close');
        assert.ok(!w.closed.includes('/queued') && up.connections() === 1, 'the queued request never reached the upstream');

        const c = await drv.hc('hole', '/x', { headers: { 'x-hc-cancel-after-ms': '200' } });
        assert.equal(c.status, 499);
        const hs = await waitStats(drv, 'hole', (s) => s.inflight === 0);
        assert.equal(hs.cancelled, 1);
        assert.equal(hs.connections, 0);
    } finally {
        assertCleanExit(await drv.stop());
        await hole.stop();
    }
});

test('issue 7 httpclient: cancel from inside on_head and on_body, and mid-body from outside', async () => {
    const w = closeWatchingUpstream((sock, head) => {
        const url = head.split(' ')[1];
        if (url === '/trickle') {
            sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
            const t = setInterval(() => (sock.destroyed ? clearInterval(t) : sock.write('1\r\nx\r\n')), 20);
            sock.on('close', () => clearInterval(t));
        } else {
            sock.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234');
        }
    });
    const up = await w.start();
    const drv = await startDriver({ a: `${up.url},io_timeout=10000` });
    try {
        const inHead = await drv.hc('a', '/in-head', { headers: { 'x-hc-cancel-in': 'head' } });
        assert.equal(inHead.status, 499);
        assert.match(inHead.body, /cancelled in on_head/);
        const inBody = await drv.hc('a', '/in-body', { headers: { 'x-hc-cancel-in': 'body', 'x-hc-sink': '1' } });
        assert.equal(inBody.status, 499);
        assert.match(inBody.body, /cancelled in on_body/);
        // streamed, then cancelled by the driver mid-body: the downstream response is aborted
        const mid = await new Promise((resolve) => {
            const req = http_.get(`${drv.url}/_hc/a/trickle`, { headers: { 'x-hc-cancel-after-ms': '150' }, agent: false }, (res) => {
                let bytes = 0;
                res.on('data', (c) => (bytes += c.length));
                res.on('end', () => resolve({ complete: res.complete, bytes }));
                res.on('error', () => resolve({ complete: false, bytes }));
            });
            req.on('error', () => resolve({ complete: false }));
        });
        assert.equal(mid.complete, false);
        const s = await waitStats(drv, 'a', (s) => s.cancelled === 3 && s.inflight === 0);
        assert.equal(s.idle, 0, 'a cancelled exchange never returns its connection to the pool');
        await waitStats(drv, 'a', () => w.closed.length === 3, 'the upstream saw all three connections close');
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: the downstream client leaving mid-stream cancels the upstream request', async () => {
    const size = 50 << 20;
    let upstreamClosed = false;
    const piece = pattern(251 * 1024);
    const up = await startHttpUpstream((req, res) => {
        res.writeHead(200, { 'content-length': size });
        let written = 0;
        res.on('close', () => (upstreamClosed = true));
        const pump = () => {
            while (written < size) {
                written += piece.length;
                if (!res.write(piece)) return res.once('drain', pump);
            }
        };
        pump();
    });
    const drv = await startDriver({ a: up.url });
    try {
        await new Promise((resolve, reject) => {
            const req = http_.get(`${drv.url}/_hc/a/big`, { agent: false }, (res) => {
                let bytes = 0;
                res.on('data', (c) => {
                    bytes += c.length;
                    if (bytes > 1 << 20) {
                        req.destroy(); // the client leaves
                        resolve();
                    }
                });
            });
            req.on('error', (e) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
        });
        const s = await waitStats(drv, 'a', (s) => s.cancelled === 1 && s.inflight === 0);
        assert.equal(s.completed, 0);
        await waitStats(drv, 'a', () => upstreamClosed, 'the upstream connection was closed');
        // the driver still serves
        const ok = await drv.hc('a', '/again', { headers: { 'x-hc-sink': '1' }, timeoutMs: 30_000 });
        assert.equal(ok.status, 200);
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

test('issue 7 httpclient: stopping the server with requests in flight and queued ends them (no leak, clean exit)', async () => {
    const up = await startRawUpstream(() => {}); // never answers
    const drv = await startDriver({ a: `${up.url},max_inflight=2,max_queue=8,io_timeout=60000` }, { limits: { drain_timeout: '1s' } });
    const pending = Array.from({ length: 6 }, (_, i) => drv.hc('a', `/p${i}`, { timeoutMs: 30_000 }).catch((e) => e));
    await waitStats(drv, 'a', (s) => s.inflight === 2 && s.queued === 4);
    assertCleanExit(await drv.stop());
    for (const r of await Promise.all(pending)) assert.ok(r instanceof Error || r.status >= 500, `${r.status}`);
    await sleep(0);
});

test('issue 7 httpclient: a storm of requests cancelled at random points (ASan: no use after free, no leak)', async () => {
    const up = await startHttpUpstream((req, res) => {
        const n = Number(req.url.slice(1));
        const size = (n * 7919) % 300_000;
        setTimeout(() => {
            res.writeHead(200, n % 2 ? { 'content-length': size } : {});
            const body = pattern(size);
            res.write(body.subarray(0, size >> 1));
            setTimeout(() => res.end(body.subarray(size >> 1)), n % 5);
        }, n % 7);
    });
    const drv = await startDriver({ a: `${up.url},max_inflight=8,max_queue=300,idle_timeout=5000` });
    try {
        const all = [];
        for (let i = 0; i < 200; i++) {
            const headers = {};
            if (i % 3 !== 0) headers['x-hc-cancel-after-ms'] = String(1 + (i % 23));
            if (i % 4 === 0) headers['x-hc-sink'] = '1';
            all.push(getPausedOrError(`${drv.url}/_hc/a/${i}`, headers));
        }
        await Promise.all(all);
        const s = await waitStats(drv, 'a', (s) => s.inflight === 0 && s.queued === 0 && s.requests === 200);
        assert.equal(s.completed + s.failed + s.cancelled, 200, JSON.stringify(s));
        assert.equal(s.failed, 0, JSON.stringify(s));
        assert.ok(s.cancelled > 0 && s.completed > 0, JSON.stringify(s));
        const again = await drv.hc('a', '/3');
        assert.equal(again.status, 200);
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

function getPausedOrError(url, headers) {
    return new Promise((resolve) => {
        const req = http_.get(url, { headers, agent: false }, (res) => {
            res.on('data', () => {});
            res.on('end', () => resolve(res.statusCode));
            res.on('error', () => resolve('aborted'));
        });
        req.on('error', () => resolve('error'));
    });
}
