// HTTP client (proxy/httpclient.h): keep-alive pool, the cap on requests in flight, the queue, retries.
// Driven through kve_hc_driver (see httpclient_helpers.mjs) against real upstreams on 127.0.0.1.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { assertCleanExit } from './harness.mjs';
import { startDriver, startHttpUpstream, startRawUpstream, waitStats, sleep } from './httpclient_helpers.mjs';

test('issue 7 httpclient: keep-alive reuse, the upstream sees N requests on one connection', async () => {
    const up = await startHttpUpstream();
    const drv = await startDriver({ a: `${up.url},idle_timeout=5000` });
    try {
        for (let i = 0; i < 20; i++) {
            const r = await drv.hc('a', `/item/${i}?q=${i}`);
            assert.equal(r.status, 200);
            assert.equal(JSON.parse(r.body).url, `/item/${i}?q=${i}`);
        }
        assert.equal(up.requests.length, 20);
        assert.equal(up.connections(), 1, 'all 20 requests on one upstream connection');
        assert.ok(up.requests.every((r) => r.connId === 0));
        assert.equal(up.requests[0].headers.host, `127.0.0.1:${up.port}`);
        const s = await waitStats(drv, 'a', (s) => s.completed === 20);
        assert.equal(s.connections, 1);
        assert.equal(s.reused, 19);
        assert.equal(s.idle, 1);
        assert.equal(s.inflight, 0);
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

test('issue 7 httpclient: idle_timeout 0 closes the connection after each response', async () => {
    const up = await startHttpUpstream();
    const drv = await startDriver({ a: `${up.url},idle_timeout=0` });
    try {
        for (let i = 0; i < 3; i++) assert.equal((await drv.hc('a', '/x')).status, 200);
        assert.equal(up.connections(), 3);
        const s = await drv.stats('a');
        assert.equal(s.reused, 0);
        assert.equal(s.idle, 0);
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

test('issue 7 httpclient: max_idle bounds the idle connections kept', async () => {
    let release;
    const gate = new Promise((r) => (release = r));
    const up = await startHttpUpstream(async (req, res) => {
        await gate;
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
    });
    const drv = await startDriver({ a: `${up.url},max_idle=2,idle_timeout=10000` });
    try {
        const all = Array.from({ length: 5 }, () => drv.hc('a', '/slow'));
        await waitStats(drv, 'a', (s) => s.inflight === 5, '5 in flight');
        release();
        for (const r of await Promise.all(all)) assert.equal(r.status, 200);
        const s = await waitStats(drv, 'a', (s) => s.completed === 5);
        assert.equal(s.connections, 5);
        assert.equal(s.idle, 2, 'only max_idle connections stay');
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

test('issue 7 httpclient: the cap on requests in flight, the FIFO queue, and 503 beyond the queue', async () => {
    const waiting = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const up = await startHttpUpstream((req, res) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        waiting.push(() => {
            concurrent--;
            res.writeHead(200, { 'content-length': req.url.length });
            res.end(req.url);
        });
    });
    const drv = await startDriver({ a: `${up.url},max_inflight=2,max_queue=3` });
    try {
        const started = [];
        for (let i = 0; i < 5; i++) {
            started.push(drv.hc('a', `/r${i}`));
            await waitStats(drv, 'a', (s) => s.requests === i + 1, `request ${i} accepted`);
        }
        const s1 = await waitStats(drv, 'a', (s) => s.inflight === 2 && s.queued === 3, '2 in flight, 3 queued');
        assert.equal(s1.rejected, 0);
        // the sixth and seventh find the queue full: refused at once with a clear error
        for (let i = 0; i < 2; i++) {
            const t0 = Date.now();
            const busy = await drv.hc('a', '/over');
            assert.equal(busy.status, 503);
            assert.equal(busy.headers['x-hc-error'], 'UPSTREAM_BUSY');
            assert.match(busy.body, /too many requests waiting/);
            assert.ok(Date.now() - t0 < 1000, 'refused at once, not after a wait');
        }
        assert.equal((await drv.stats('a')).rejected, 2);
        // release in order: the queue is FIFO, and never more than 2 reach the upstream at once
        while (up.requests.length < 5 || waiting.length > 0) {
            if (waiting.length === 0) {
                await sleep(10);
                continue;
            }
            waiting.shift()();
        }
        const bodies = (await Promise.all(started)).map((r) => r.body);
        assert.deepEqual(bodies, ['/r0', '/r1', '/r2', '/r3', '/r4']);
        assert.deepEqual(up.requests.map((r) => r.url), ['/r0', '/r1', '/r2', '/r3', '/r4']);
        assert.equal(maxConcurrent, 2, 'the upstream never saw more than max_inflight requests at once');
        assert.ok(up.connections() <= 2, 'queued requests reuse the released connections');
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

test('issue 7 httpclient: an idle connection the upstream closes is dropped at once, not reused', async () => {
    const up = await startRawUpstream((sock) => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        setTimeout(() => sock.end(), 50); // keep-alive announced, then closed while idle
    });
    const drv = await startDriver({ a: `${up.url},idle_timeout=10000` });
    try {
        assert.equal((await drv.hc('a', '/1')).status, 200);
        await waitStats(drv, 'a', (s) => s.idle === 0, 'the closed idle connection is dropped');
        const r = await drv.hc('a', '/2');
        assert.equal(r.status, 200);
        const s = await drv.stats('a');
        assert.equal(s.connections, 2);
        assert.equal(s.reused, 0);
        assert.equal(s.retries, 0);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: a reused connection that fails before any response byte is retried once (idempotent only)', async () => {
    // every connection answers its first request and silently drops the second one (closes without a byte)
    const up = await startRawUpstream((sock, head, index) => {
        if (index === 0) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst');
        else sock.destroy();
    });
    const drv = await startDriver({ a: `${up.url},idle_timeout=10000` });
    try {
        assert.equal((await drv.hc('a', '/1')).body, 'first');
        const r = await drv.hc('a', '/2'); // reused connection dropped: sent again on a new one
        assert.equal(r.status, 200);
        assert.equal(r.body, 'first');
        let s = await drv.stats('a');
        assert.equal(s.retries, 1);
        assert.equal(s.connections, 2);
        // a POST is not idempotent: not retried, the caller sees the close
        const p = await drv.hc('a', '/3', { method: 'POST', body: 'x' });
        assert.equal(p.status, 502);
        assert.equal(p.headers['x-hc-error'], 'UPSTREAM_CLOSED');
        s = await drv.stats('a');
        assert.equal(s.retries, 1);
        // ... unless the caller says it is safe
        assert.equal((await drv.hc('a', '/4')).status, 200); // a fresh connection in the pool again
        const q = await drv.hc('a', '/5', { method: 'POST', body: 'x', headers: { 'x-hc-retry-safe': '1' } });
        assert.equal(q.status, 200);
        assert.equal((await drv.stats('a')).retries, 2);
    } finally {
        assertCleanExit(await drv.stop());
    }
});
