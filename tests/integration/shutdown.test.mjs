// Graceful stop: SIGTERM/SIGINT finish the requests in flight, close idle keep-alive connections at
// once, refuse new connections, bound everything by limits.drain_timeout (an HTTP upstream or a KV
// request on a hung Redis), and exit 0 with nothing leaked (the sanitizer build checks the leaks).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import httpMod from 'node:http';
import net from 'node:net';
import { assertCleanExit, http, SANITIZE, sleep, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';

let redis, upstream;

before(async () => {
    redis = await startRedis();
    upstream = await startUpstream(async (req, res) => {
        const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 0);
        await sleep(ms);
        res.end(`slept ${ms}`);
    });
});

after(async () => {
    await upstream?.stop();
    await redis?.stop();
});

function config(extra = {}) {
    return { redis: redis.url, threads: 2, routes: [{ path: '/up', upstream: `${upstream.url}/` }], ...extra };
}

test('SIGTERM lets requests in flight finish, then exits 0', async () => {
    const k = await startKvedge(config());
    const inflight = [1, 2, 3].map(() => http('GET', `${k.url}/up/slow?ms=1500`, { timeoutMs: 10000 }));
    await waitFor(() => upstream.requests.filter((r) => r.url === '/slow?ms=1500').length === 3, { message: 'upstream got all' });
    const t0 = Date.now();
    const stopped = k.stop({ signal: 'SIGTERM' });
    // new connections are refused while draining (once the signal has been taken)
    await waitFor(() => http('GET', `${k.url}/healthz`, { timeoutMs: 2000 }).then(() => false, (e) => /ECONNREFUSED|ECONNRESET|socket hang up/.test(e.message)), {
        message: 'new connections refused',
    });
    for (const r of await Promise.all(inflight)) {
        assert.equal(r.status, 200);
        assert.equal(r.body, 'slept 1500');
    }
    const result = await stopped;
    assertCleanExit(result);
    assert.ok(Date.now() - t0 < 5000, 'exit follows the last response');
    assert.match(result.stderr, /received SIGTERM, draining connections/);
});

test('idle keep-alive connections do not hold up the stop', async () => {
    const k = await startKvedge(config({ limits: { request_timeout: '30s', drain_timeout: '20s' } }));
    const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 4 });
    await Promise.all([1, 2, 3, 4].map(() => http('GET', `${k.url}/healthz`, { agent })));
    assert.ok(Object.values(agent.freeSockets).flat().length >= 1, 'keep-alive sockets are parked');
    const t0 = Date.now();
    assertCleanExit(await k.stop({ signal: 'SIGINT' }));
    assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0} ms despite idle keep-alive connections`);
    agent.destroy();
});

test('a keep-alive client gets its in-flight answer with Connection: close semantics and no reset', async () => {
    const k = await startKvedge(config());
    const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await http('GET', `${k.url}/healthz`, { agent })).status, 200);
    const seen = upstream.requests.length;
    const p = http('GET', `${k.url}/up/slow?ms=800`, { agent, timeoutMs: 10000 });
    await waitFor(() => upstream.requests.slice(seen).some((r) => r.url === '/slow?ms=800'), { message: 'the request reached the upstream' });
    const stopped = k.stop();
    const r = await p;
    assert.equal(r.status, 200);
    assertCleanExit(await stopped);
    agent.destroy();
});

test('drain_timeout bounds the stop: a request longer than it is cut, and the exit is still clean', async () => {
    const k = await startKvedge(config({ limits: { drain_timeout: '500ms' } }));
    const slow = http('GET', `${k.url}/up/slow?ms=4000`, { timeoutMs: 10000 }).then(
        (r) => r,
        (e) => e
    );
    await waitFor(() => upstream.requests.some((r) => r.url === '/slow?ms=4000'), { message: 'upstream got it' });
    const t0 = Date.now();
    const result = await k.stop();
    assertCleanExit(result);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 3500, `stop took ${elapsed} ms; the request would have taken 4000`);
    assert.match(result.stderr, /drain timeout \(500ms\): closing 1 connections with requests in flight/);
    const outcome = await slow;
    assert.ok(outcome instanceof Error || outcome.status !== 200, 'the cut request did not pretend to succeed');
});

test('a half-sent request does not block the stop beyond the drain timeout', async () => {
    const k = await startKvedge(config({ limits: { drain_timeout: '300ms' } }));
    const s = net.connect(k.port, '127.0.0.1');
    await new Promise((ok) => s.once('connect', ok));
    s.write('POST /up/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial');
    await sleep(100);
    const t0 = Date.now();
    assertCleanExit(await k.stop());
    assert.ok(Date.now() - t0 < 3000);
    s.destroy();
});

test('a KV request waiting on Redis when SIGTERM arrives still gets its answer (the socket is parked, not idle)', async () => {
    const k = await startKvedge(config({ kv: { tokens: [{ token: 'drain-token-0123456789' }] }, redis: { url: redis.url, command_timeout: '5s' } }));
    // a script that keeps Redis busy for ~800 ms, so the request is in flight when the stop begins
    const slow = 'local t = redis.call("TIME") local s = t[1] * 1000000 + t[2] repeat t = redis.call("TIME") until t[1] * 1000000 + t[2] - s > 800000 return "done"';
    const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 1 });
    const headers = { authorization: 'Bearer drain-token-0123456789' };
    assert.equal((await http('GET', `${k.url}/kv/ping`, { headers, agent })).status, 200); // keep-alive first
    const p = http('POST', `${k.url}/kv`, { headers, agent, body: JSON.stringify(['EVAL', slow, 0]), timeoutMs: 10000 });
    await sleep(200);
    const stopped = k.stop();
    const r = await p;
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { result: 'done' });
    assertCleanExit(await stopped);
    agent.destroy();
});

test('drain_timeout bounds the stop while a KV request waits on a hung (SIGSTOPped) Redis', async (t) => {
    const hung = await startRedis(); // its own: stopping the shared one would stall the other tests
    const token = 'drain-token-0123456789';
    const headers = { authorization: `Bearer ${token}` };
    const k = await startKvedge(config({ redis: { url: hung.url, command_timeout: '30s', breaker_threshold: 1000 },
        kv: { tokens: [{ token }] }, limits: { drain_timeout: '500ms' } }));
    try {
        assert.equal((await http('POST', `${k.url}/kv`, { headers, body: JSON.stringify(['SET', 'dk', 'v']) })).status, 200);
        await hung.kill('SIGSTOP');
        const sent = Date.now();
        const inflight = http('POST', `${k.url}/kv`, { headers, body: JSON.stringify(['GET', 'dk']), timeoutMs: 20_000 }).then(
            (r) => r,
            (e) => e
        );
        await sleep(300); // the GET is queued on the link and cannot be answered for 30 s
        const t0 = Date.now();
        const result = await k.stop();
        const elapsed = Date.now() - t0;
        assertCleanExit(result);
        assert.ok(elapsed < 3000 * (SANITIZE ? 2 : 1), `stop took ${elapsed} ms (drain_timeout 500 ms, command_timeout 30 s)`);
        assert.match(result.stderr, /drain timeout \(500ms\): closing 1 connections with requests in flight/);
        const outcome = await inflight;
        const waited = Date.now() - sent;
        t.diagnostic(`client outcome after ${waited} ms: ${outcome instanceof Error ? outcome.message : `${outcome.status} ${outcome.body}`}`);
        assert.ok(waited < 5000 * (SANITIZE ? 2 : 1), `the client got an outcome after ${waited} ms, not a hang`);
        // an answer that says it failed, or a closed connection: never a 200 it could not have had
        if (!(outcome instanceof Error)) {
            assert.ok([503, 504].includes(outcome.status), `status ${outcome.status} ${outcome.body}`);
            assert.match(JSON.parse(outcome.body).error, /^ERR /);
        } else {
            assert.match(outcome.message, /socket hang up|ECONNRESET/);
        }
    } finally {
        await hung.kill('SIGCONT');
        if (k.running) await k.stop();
        await hung.stop();
    }
});
