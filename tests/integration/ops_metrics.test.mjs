// Issue 11, conventions: /metrics has the open-streams gauge (requests being processed, the scrape itself included),
// upstream errors by route and kind (their 502/504 side: ops_upstream.test.mjs), and the standard process_* series
// read from /proc/self.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http_ from 'node:http';
import http2 from 'node:http2';
import { assertCleanExit, http, startKvedge, startUpstream, waitFor } from './harness.mjs';
import { openStream, RW_TOKEN } from './kv_helpers.mjs';

let release = [];
const upstream = await startUpstream(async (req, res) => {
    if (req.url.startsWith('/slow')) await new Promise((resolve) => release.push(resolve));
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
});
const k = await startKvedge({
    threads: 2,
    http2: true,
    admin: { path: '/_admin/' },
    routes: [{ path: '/app', upstream: upstream.url }, { path: '/down', upstream: 'http://127.0.0.1:1' }],
});

after(async () => {
    for (const r of release) r();
    assertCleanExit(await k.stop());
    await upstream.stop();
});

/** the value of the sample `name` (no labels) in a /metrics scrape */
async function scrape() {
    const body = (await http('GET', `${k.url}/_admin/metrics`)).body;
    const value = (name) => {
        const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
        assert.ok(m, `no ${name} in /metrics`);
        return Number(m[1]);
    };
    return { body, value };
}

test('issue 11 metrics: kvedge_open_streams counts requests in flight (the scrape itself is one) and falls back after', async () => {
    assert.equal((await scrape()).value('kvedge_open_streams'), 1);
    const agent = new http_.Agent({ keepAlive: true, maxSockets: 10 });
    const pending = [1, 2, 3].map((i) => http('GET', `${k.url}/app/slow/${i}`, { agent, timeoutMs: 20_000 }));
    await waitFor(() => release.length === 3, { message: 'the upstream holds 3 requests' });
    const during = await scrape();
    assert.match(during.body, /# TYPE kvedge_open_streams gauge/);
    assert.equal(during.value('kvedge_open_streams'), 4);
    for (const r of release.splice(0)) r();
    for (const r of await Promise.all(pending)) assert.equal(r.status, 200);
    agent.destroy();
    await waitFor(async () => (await scrape()).value('kvedge_open_streams') === 1, { message: 'the gauge back to 1' });
});

test('issue 11 metrics: kvedge_open_streams counts HTTP/2 streams one by one, and a stream or a connection the client drops is closed', async () => {
    const session = http2.connect(k.url); // h2c with prior knowledge (http2: true)
    try {
        const streams = [1, 2, 3].map((i) => {
            const s = session.request({ ':path': `/app/slow/h2-${i}` });
            s.on('error', () => {});
            s.resume();
            return s;
        });
        await waitFor(() => release.length === 3, { message: 'the upstream holds 3 requests' });
        assert.equal((await scrape()).value('kvedge_open_streams'), 4, 'three streams on one connection, and the scrape');
        streams[0].close(http2.constants.NGHTTP2_CANCEL); // RST_STREAM while the upstream still holds it
        for (const r of release.splice(0)) r();
        await waitFor(async () => (await scrape()).value('kvedge_open_streams') === 1, { message: 'the gauge back to 1' });
    } finally {
        session.destroy();
    }
    // an HTTP/1 client that goes away in the middle of its request
    const req = http_.request({ host: '127.0.0.1', port: k.port, path: '/app/slow/gone', agent: false });
    req.on('error', () => {});
    req.end();
    await waitFor(() => release.length === 1, { message: 'the upstream holds the request' });
    assert.equal((await scrape()).value('kvedge_open_streams'), 2);
    req.destroy();
    for (const r of release.splice(0)) r();
    await waitFor(async () => (await scrape()).value('kvedge_open_streams') === 1, { message: 'the gauge back to 1' });
});

test('issue 11 metrics: kvedge_upstream_errors_total by route and kind, every kind of every proxied route, zeros included', async () => {
    const before = await scrape();
    assert.match(before.body, /^kvedge_upstream_errors_total\{route="proxy:\/app",kind="timeout"\} 0$/m);
    assert.match(before.body, /^kvedge_upstream_errors_total\{route="proxy:\/down",kind="connect"\} 0$/m);
    assert.doesNotMatch(before.body, /kvedge_upstream_errors_total\{route="admin"/);
    for (let i = 0; i < 3; i++) assert.equal((await http('GET', `${k.url}/down/x`)).status, 502);
    const afterDown = await scrape();
    assert.match(afterDown.body, /^kvedge_upstream_errors_total\{route="proxy:\/down",kind="connect"\} 3$/m);
    assert.match(afterDown.body, /^kvedge_upstream_errors_total\{route="proxy:\/app",kind="connect"\} 0$/m);
});

test('issue 11 metrics: the process_* series match /proc for the kvedge process and move with traffic', async () => {
    const first = await scrape();
    for (const [name, type] of [['process_cpu_seconds_total', 'counter'], ['process_resident_memory_bytes', 'gauge'],
        ['process_virtual_memory_bytes', 'gauge'], ['process_open_fds', 'gauge'], ['process_max_fds', 'gauge'],
        ['process_start_time_seconds', 'gauge']])
        assert.match(first.body, new RegExp(`^# TYPE ${name} ${type}$`, 'm'));
    const fds = fs.readdirSync(`/proc/${k.pid}/fd`).length;
    assert.ok(Math.abs(first.value('process_open_fds') - fds) <= 4, `process_open_fds ${first.value('process_open_fds')}, /proc: ${fds}`);
    const limit = Number(/^Max open files\s+(\d+)/m.exec(fs.readFileSync(`/proc/${k.pid}/limits`, 'utf8'))[1]);
    assert.equal(first.value('process_max_fds'), limit);
    const statusRss = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${k.pid}/status`, 'utf8'))[1]) * 1024;
    const rss = first.value('process_resident_memory_bytes');
    assert.ok(rss > 1 << 20 && Math.abs(rss - statusRss) < 16 << 20, `rss ${rss}, /proc status ${statusRss}`);
    assert.ok(first.value('process_virtual_memory_bytes') >= rss);
    const start = first.value('process_start_time_seconds');
    const now = Date.now() / 1000;
    assert.ok(start <= now + 1 && start > now - 300, `start ${start}, now ${now}`);
    assert.ok(Math.abs(start - first.value('kvedge_process_start_time_seconds')) <= 2);
    // CPU time is a counter: work makes it move, never back
    const cpu0 = first.value('process_cpu_seconds_total');
    const agent = new http_.Agent({ keepAlive: true, maxSockets: 8 });
    const deadline = Date.now() + 20_000;
    let cpu1 = cpu0;
    while (cpu1 <= cpu0 && Date.now() < deadline) {
        await Promise.all(Array.from({ length: 200 }, (_, i) => http('GET', `${k.url}/app/${i}`, { agent })));
        cpu1 = (await scrape()).value('process_cpu_seconds_total');
    }
    agent.destroy();
    assert.ok(cpu1 > cpu0, `process_cpu_seconds_total ${cpu0} -> ${cpu1}`);
    // connections opened show up in process_open_fds
    const sockets = [];
    for (let i = 0; i < 20; i++) {
        const s = new (await import('node:net')).Socket();
        await new Promise((resolve) => s.connect(k.port, '127.0.0.1', resolve));
        sockets.push(s);
    }
    try {
        await waitFor(async () => (await scrape()).value('process_open_fds') >= first.value('process_open_fds') + 20,
            { message: 'process_open_fds up by the 20 connections' });
    } finally {
        for (const s of sockets) s.destroy();
    }
});

test('issue 11 metrics: an open SSE stream (/subscribe) is an open stream until the client leaves', async () => {
    const kv = await startKvedge({ threads: 1, kv: { path: '/kv', tokens: [{ token: RW_TOKEN }] } }, { waitReady: true });
    const open = async () => Number(/^kvedge_open_streams (\d+)$/m.exec((await http('GET', `${kv.url}/metrics`)).body)[1]);
    try {
        assert.equal(await open(), 1);
        const a = await openStream(`${kv.url}/kv/subscribe/ops-a`);
        const b = await openStream(`${kv.url}/kv/subscribe/ops-b`);
        await a.waitData('subscribe,ops-a,1');
        await b.waitData('subscribe,ops-b,1');
        assert.equal(await open(), 3);
        a.close();
        await waitFor(async () => (await open()) === 2, { message: 'one stream left' });
        b.close();
        await waitFor(async () => (await open()) === 1, { message: 'none left' });
    } finally {
        assertCleanExit(await kv.stop());
    }
});
