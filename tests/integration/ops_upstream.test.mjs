// Issue 11, conventions: an upstream timeout answers 504 Gateway Timeout (502 stays for a refused or broken
// connection), on a plain proxy route and on a cached one, and every upstream failure is counted by route and kind
// in kvedge_upstream_errors_total.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, http, startKvedge, stopKvedgeThen, assertCleanExit } from './harness.mjs';

const TIMEOUT_MS = 1000;

/** a TCP "origin" whose behaviour per connection is `onConnection(socket)`; tracks its sockets to close them */
async function rawOrigin(onConnection) {
    const sockets = new Set();
    const server = net.createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
        onConnection(s);
    });
    await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    return {
        url: `http://127.0.0.1:${server.address().port}`,
        stop: () => new Promise((resolve) => {
            for (const s of sockets) s.destroy();
            server.close(() => resolve());
        }),
    };
}

/** reads the request head, then calls `reply(socket)` */
const onHead = (reply) => (s) => {
    let head = '';
    s.on('data', (d) => {
        head += d;
        if (head.includes('\r\n\r\n')) {
            head = '';
            reply(s);
        }
    });
};

const origins = {
    hang: await rawOrigin(() => {}), // accepts, reads, never answers
    midHead: await rawOrigin(onHead((s) => s.end('HTTP/1.1 200 OK\r\nContent-Ty'))), // closes in the middle of the head
    midBody: await rawOrigin(onHead((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part'))),
    slowBody: await rawOrigin(onHead((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part'))),
    garbage: await rawOrigin(onHead((s) => s.end('this is not HTTP\r\n\r\n'))),
};
const refusedPort = await freePort(); // nothing listens there

const k = await startKvedge({
    threads: 1,
    admin: { path: '/_admin/' },
    proxy: { timeout: `${TIMEOUT_MS}ms`, keepalive_timeout: '0s' },
    routes: [
        { path: '/hang', upstream: origins.hang.url },
        { path: '/cached-hang', upstream: origins.hang.url, cache: { enabled: true } },
        { path: '/refused', upstream: `http://127.0.0.1:${refusedPort}` },
        { path: '/cached-refused', upstream: `http://127.0.0.1:${refusedPort}`, cache: { enabled: true } },
        { path: '/mid-head', upstream: origins.midHead.url },
        { path: '/mid-body', upstream: origins.midBody.url },
        { path: '/slow-body', upstream: origins.slowBody.url },
        { path: '/garbage', upstream: origins.garbage.url },
    ],
}, { waitReady: true });

after(async () => {
    assertCleanExit(await k.stop());
    for (const o of Object.values(origins)) await o.stop();
});

/** kvedge_upstream_errors_total of `route` as {kind: n} */
async function upstreamErrors(route) {
    const body = (await http('GET', `${k.url}/_admin/metrics`)).body;
    const out = {};
    for (const m of body.matchAll(/^kvedge_upstream_errors_total\{route="([^"]*)",kind="([^"]*)"\} (\d+)$/gm))
        if (m[1] === route) out[m[2]] = Number(m[3]);
    return out;
}

async function timed(method, url) {
    const t0 = Date.now();
    const r = await http(method, url, { timeoutMs: 10_000 });
    return { ...r, ms: Date.now() - t0 };
}

test('issue 11 504: an upstream that accepts and never answers gets 504 within the route timeout', async () => {
    const r = await timed('GET', `${k.url}/hang/x`);
    assert.equal(r.status, 504, r.body);
    assert.equal(r.statusMessage, 'Gateway Timeout');
    assert.ok(r.ms >= TIMEOUT_MS - 50 && r.ms < TIMEOUT_MS + 2000, `answered after ${r.ms} ms`);
    assert.deepEqual(await upstreamErrors('proxy:/hang'),
        { connect: 0, timeout: 1, reset: 0, tls: 0, bad_response: 0, other: 0 });
});

test('issue 11 504: the same through a cached route (a miss forwarded to a silent upstream) is 504 too', async () => {
    const r = await timed('GET', `${k.url}/cached-hang/x`);
    assert.equal(r.status, 504, r.body);
    assert.ok(r.ms < TIMEOUT_MS + 2000, `answered after ${r.ms} ms`);
    assert.match(r.headers['cache-status'] ?? '', /fwd-status=504; detail=upstream-error/);
    assert.equal((await upstreamErrors('proxy:/cached-hang')).timeout, 1);
});

test('issue 11 504: a refused port stays 502 (plain and cached), counted as connect', async () => {
    for (const route of ['/refused', '/cached-refused']) {
        const r = await http('GET', `${k.url}${route}/x`);
        assert.equal(r.status, 502, `${route}: ${r.body}`);
        assert.equal(r.statusMessage, 'Gateway Error');
        assert.deepEqual(await upstreamErrors(`proxy:${route}`),
            { connect: 1, timeout: 0, reset: 0, tls: 0, bad_response: 0, other: 0 }, route);
    }
});

test('issue 11 504: a connection closed in the middle of the head stays 502, counted as reset', async () => {
    const r = await http('GET', `${k.url}/mid-head/x`);
    assert.equal(r.status, 502, r.body);
    assert.equal((await upstreamErrors('proxy:/mid-head')).reset, 1);
});

test('issue 11 504: a head that is not HTTP stays 502', async () => {
    const r = await http('GET', `${k.url}/garbage/x`);
    assert.equal(r.status, 502, r.body);
    const errors = await upstreamErrors('proxy:/garbage');
    assert.equal(Object.values(errors).reduce((a, b) => a + b), 1, JSON.stringify(errors));
    assert.equal(errors.timeout, 0);
});

test('issue 11 504: failures after the head (status already sent) are still counted: closed -> reset, stalled -> timeout', async () => {
    await assert.rejects(http('GET', `${k.url}/mid-body/x`, { timeoutMs: 10_000 })); // 200 sent, then the body is cut
    await waitCount('proxy:/mid-body', 'reset', 1);
    await assert.rejects(http('GET', `${k.url}/slow-body/x`, { timeoutMs: 10_000 }));
    await waitCount('proxy:/slow-body', 'timeout', 1);
});

async function waitCount(route, kind, n) {
    const deadline = Date.now() + 5000;
    for (;;) {
        const errors = await upstreamErrors(route);
        if (errors[kind] === n) return;
        if (Date.now() > deadline) assert.fail(`${route}: ${JSON.stringify(errors)}, expected ${kind} ${n}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}
