// HTTP client (proxy/httpclient.h): connect timeout, I/O timeout, deadline, refused connections, each
// failing the request with its own error. Driven through kve_hc_driver against real sockets on 127.0.0.1.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { assertCleanExit, freePort } from './harness.mjs';
import { startDriver, startRawUpstream, startBlackhole, waitStats, SANITIZE, sleep } from './httpclient_helpers.mjs';

const slack = SANITIZE ? 3000 : 1500;

test('issue 7 httpclient: connect timeout against a black hole (listener whose accept queue is full)', async () => {
    const hole = await startBlackhole();
    const drv = await startDriver({ a: `http://127.0.0.1:${hole.port},connect_timeout=300,io_timeout=10000` });
    try {
        const t0 = Date.now();
        const r = await drv.hc('a', '/x');
        const took = Date.now() - t0;
        assert.equal(r.status, 504);
        assert.equal(r.headers['x-hc-error'], 'UPSTREAM_CONNECT_TIMEOUT');
        assert.match(r.body, /upstream connect timed out: connecting/);
        assert.ok(took >= 280 && took < 300 + slack, `failed after the connect timeout (${took} ms), not the I/O timeout`);
        const s = await drv.stats('a');
        assert.equal(s.failed, 1);
        assert.equal(s.connections, 0);
        assert.equal(s.inflight, 0);
    } finally {
        assertCleanExit(await drv.stop());
        await hole.stop();
    }
});

test('issue 7 httpclient: a refused connection is UPSTREAM_CONNECT (502), at once', async () => {
    const port = await freePort(); // nothing listens there
    const drv = await startDriver({ a: `http://127.0.0.1:${port},connect_timeout=5000` });
    try {
        const t0 = Date.now();
        const r = await drv.hc('a', '/x');
        assert.equal(r.status, 502);
        assert.equal(r.headers['x-hc-error'], 'UPSTREAM_CONNECT');
        assert.ok(Date.now() - t0 < 2000);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: I/O timeout when the upstream stalls before the response', async () => {
    const up = await startRawUpstream(() => {}); // reads the request, never answers
    const drv = await startDriver({ a: `${up.url},connect_timeout=5000,io_timeout=300` });
    try {
        const t0 = Date.now();
        const r = await drv.hc('a', '/stall');
        const took = Date.now() - t0;
        assert.equal(r.status, 504);
        assert.equal(r.headers['x-hc-error'], 'UPSTREAM_IO_TIMEOUT');
        assert.match(r.body, /waiting for the response/);
        assert.ok(took >= 280 && took < 300 + slack, `took ${took} ms`);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: I/O timeout between reads of the body (stall in the middle), connection not reused', async () => {
    const up = await startRawUpstream((sock) => {
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'); // 10 of 100 bytes, then silence
    });
    const drv = await startDriver({ a: `${up.url},io_timeout=300` });
    try {
        const r = await drv.hc('a', '/stall', { headers: { 'x-hc-sink': '1' } });
        assert.equal(r.status, 504);
        assert.equal(r.headers['x-hc-error'], 'UPSTREAM_IO_TIMEOUT');
        assert.match(r.body, /reading the body/);
        const s = await waitStats(drv, 'a', (s) => s.failed === 1);
        assert.equal(s.idle, 0, 'a connection with a broken response never goes back to the pool');
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: the deadline ends a request that trickles (no I/O timeout ever fires)', async () => {
    const up = await startRawUpstream((sock) => {
        sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        const t = setInterval(() => {
            if (sock.destroyed) return clearInterval(t);
            sock.write('1\r\nx\r\n');
        }, 50);
        sock.on('close', () => clearInterval(t));
    });
    const drv = await startDriver({ a: `${up.url},io_timeout=1000,deadline=600` });
    try {
        const t0 = Date.now();
        const r = await drv.hc('a', '/trickle', { headers: { 'x-hc-sink': '1' } });
        const took = Date.now() - t0;
        assert.equal(r.status, 504);
        assert.equal(r.headers['x-hc-error'], 'UPSTREAM_DEADLINE');
        assert.ok(took >= 580 && took < 600 + slack, `took ${took} ms`);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: the deadline covers the queue; while the caller holds a piece it waits for the proceed', async () => {
    // the only slot is held by a response whose downstream reader pauses longer than the deadline; 64 MiB, because
    // the socket buffers on the way (tcp_wmem max 4 MiB + tcp_rmem max 32 MiB here) could take all of 8 MiB, which
    // let the first response finish during the pause and free the slot for the queued one (CI: 200 instead of 504)
    const body = Buffer.alloc(64 << 20, 'a');
    const up = await startRawUpstream((sock) => {
        sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        sock.write(body);
    });
    const drv = await startDriver({ a: `${up.url},max_inflight=1,max_queue=4,io_timeout=5000,deadline=400` });
    try {
        const { getPaused } = await import('./httpclient_helpers.mjs');
        const first = getPaused(`${drv.url}/_hc/a/hold`, { pauseMs: 1200 });
        await waitStats(drv, 'a', (s) => s.inflight === 1);
        const r = await drv.hc('a', '/queued');
        assert.equal(r.status, 504);
        assert.equal(r.headers['x-hc-error'], 'UPSTREAM_DEADLINE');
        assert.match(r.body, /waiting in the queue/);
        // the first one's deadline passed while its piece was held: it fails once the reader takes the piece back
        const f = await first;
        assert.equal(f.status, 200);
        assert.ok(!f.complete && f.bytes < body.length, `the stream was aborted, not completed (${f.bytes} bytes)`);
        const s = await waitStats(drv, 'a', (s) => s.failed === 2);
        assert.equal(s.inflight, 0);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: the I/O timeout does not fire while the caller holds a piece (slow downstream)', async () => {
    // the upstream sends 8 MiB at once; the downstream client pauses 800 ms (> io_timeout) mid-body
    const body = Buffer.alloc(8 << 20, 'a');
    const up = await startRawUpstream((sock) => {
        sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        sock.write(body);
    });
    const drv = await startDriver({ a: `${up.url},io_timeout=300` });
    try {
        const { getPaused } = await import('./httpclient_helpers.mjs');
        const r = await getPaused(`${drv.url}/_hc/a/big`, { pauseMs: 800 });
        assert.equal(r.status, 200);
        assert.equal(r.bytes, body.length);
        assert.ok(r.complete);
        assert.equal((await drv.stats('a')).failed, 0);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: a name that does not resolve is UPSTREAM_RESOLVE', async () => {
    const drv = await startDriver({ a: 'http://no-such-host.invalid:80,connect_timeout=5000' });
    try {
        const r = await drv.hc('a', '/x');
        assert.equal(r.status, 502);
        assert.ok(['UPSTREAM_RESOLVE', 'UPSTREAM_CONNECT_TIMEOUT'].includes(r.headers['x-hc-error']), r.headers['x-hc-error']);
    } finally {
        assertCleanExit(await drv.stop());
    }
});

test('issue 7 httpclient: a host name is resolved (localhost) and connected', async () => {
    const srv = net.createServer((sock) => {
        sock.on('data', () => sock.write('HTTP/1.1 204 No Content\r\n\r\n'));
    });
    await new Promise((r) => srv.listen({ host: '127.0.0.1', port: 0 }, r));
    const drv = await startDriver({ a: `http://localhost:${srv.address().port}` });
    try {
        const r = await drv.hc('a', '/x');
        assert.equal(r.status, 204);
    } finally {
        assertCleanExit(await drv.stop());
        srv.close();
        await sleep(0);
    }
});
