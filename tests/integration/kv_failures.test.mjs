// Failure paths of the KV REST API (../../../shared/docs/kv-rest-protocol.md): the sync-token counter
// failing after the user's commands replied, clients that go away while a /pipeline or /multi-exec waits
// for a paused Redis (HTTP/1 and HTTP/2), and Redis killed while a long pipeline is in flight. Each test
// starts its own Redis and kvedge (the failures are destructive); Redis is checked directly with ioredis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { http, SANITIZE, sleep, startKvedge, startRedis, stopKvedgeThen, waitFor } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';

/** time bounds are stretched in sanitizer builds */
const SLOW = SANITIZE ? 3 : 1;
const UNKNOWN = "ERR unknown command 'NOSUCHCMD', with args beginning with: ";

/** A private Redis and a kvedge (one thread, so every request shares one Redis link) with `redisConf` and `extra`. */
async function startStack(redisConf = {}, extra = {}) {
    const redis = await startRedis();
    let k;
    try {
        k = await startKvedge({ ...kvConfig(redis.url, {}, extra), threads: 1, redis: { url: redis.url, ...redisConf } });
    } catch (e) {
        await redis.stop();
        throw e;
    }
    return { redis, k, io: redis.client(), base: `${k.url}/kv` };
}

function post(base, path, body, headers = {}) {
    return http('POST', `${base}${path}`, {
        headers: { authorization: `Bearer ${RW_TOKEN}`, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        timeoutMs: 20_000,
    });
}

function parse(r) {
    assert.equal(r.headers['content-type'], 'application/json', `content type of ${r.status} ${r.body.slice(0, 200)}`);
    return JSON.parse(r.body);
}

function expectJson(r, status, body, what = '') {
    assert.equal(r.status, status, `${what} status (body ${r.body.slice(0, 300)})`);
    assert.deepEqual(parse(r), body, what);
}

function syncOf(r) {
    const v = r.headers['upstash-sync-token'];
    assert.match(v ?? '', /^\d+$/, `upstash-sync-token on ${r.status}`);
    return BigInt(v);
}

// =============================================================================================
// the sync position (ROLE after a request that may write)

test('issue 7: the sync position (ROLE) failing keeps the result, and writes still get fresh, increasing tokens', async () => {
    const { redis, k, io, base } = await startStack({ command_timeout: '300ms', breaker_threshold: 100 });
    try {
        const s1 = syncOf(await post(base, '', ['SET', 'sc:k', '1']));
        assert.ok(s1 > 0n);
        // ROLE refused by the server's ACL: an error reply in place of the offset
        await io.call('ACL', 'SETUSER', 'default', '-role');
        let r = await post(base, '', ['SET', 'sc:k', '2']);
        expectJson(r, 200, { result: 'OK' }, 'ROLE refused');
        const s2 = syncOf(r);
        assert.ok(s2 > s1, `a fresh token without the offset: ${s2} > ${s1}`);
        r = await post(base, '/pipeline', [['SET', 'sc:k', '3'], ['GET', 'sc:k']]);
        expectJson(r, 200, [{ result: 'OK' }, { result: '3' }], 'a pipeline while ROLE is refused');
        assert.ok(syncOf(r) > s2);
        r = await post(base, '', ['NOSUCHCMD']);
        expectJson(r, 400, { error: UNKNOWN }, 'an unknown command may write: it gets a token too');
        assert.ok(syncOf(r) > s2);
        await io.call('ACL', 'SETUSER', 'default', '+role');
        const s3 = syncOf(await post(base, '', ['SET', 'sc:k', '4']));
        assert.ok(s3 > syncOf(r), 'tokens keep advancing once ROLE works again');
        assert.equal(await io.get('sc:k'), '4');
    } finally {
        await io.call('ACL', 'SETUSER', 'default', '+role').catch(() => {});
        await stopKvedgeThen(k, redis);
    }
});

// =============================================================================================
// clients that go away while their request waits for Redis

/** Commands the link has sent and not seen answered (the kvedge_kv_inflight gauge). */
async function inflight(k) {
    const r = await http('GET', `${k.adminUrl}metrics`);
    assert.equal(r.status, 200);
    return Number(/^kvedge_kv_inflight\{store="default"\} (\d+)$/m.exec(r.body)?.[1]);
}

/** HTTP/1: writes the request on a socket of its own; abandon() closes it without reading a byte. */
function http1Request(k, path, body) {
    const sock = net.connect({ host: '127.0.0.1', port: k.port });
    sock.on('error', () => {});
    sock.write(`POST /kv${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${RW_TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return { abandon: () => sock.destroy() };
}

/** HTTP/2 with prior knowledge (h2c); abandon() resets the stream, or closes the whole connection. */
function http2Request(k, path, body, { closeConnection }) {
    const session = http2.connect(k.url);
    session.on('error', () => {});
    const req = session.request({ ':method': 'POST', ':path': `/kv${path}`, authorization: `Bearer ${RW_TOKEN}` });
    req.on('error', () => {});
    req.end(body);
    return {
        abandon() {
            if (closeConnection) session.destroy();
            else req.close(http2.constants.NGHTTP2_CANCEL, () => session.close());
        },
    };
}

/** One request over HTTP/2 (prior knowledge): {status, headers, body}. */
function http2Post(k, path, body) {
    return new Promise((resolve, reject) => {
        const session = http2.connect(k.url);
        session.on('error', reject);
        const req = session.request({ ':method': 'POST', ':path': `/kv${path}`, authorization: `Bearer ${RW_TOKEN}` });
        let text = '';
        let headers;
        req.setEncoding('utf8');
        req.on('response', (h) => (headers = h));
        req.on('data', (d) => (text += d));
        req.on('error', reject);
        req.on('end', () => {
            session.close();
            resolve({ status: headers[':status'], headers, body: text });
        });
        req.end(JSON.stringify(body));
    });
}

test('a client that goes away while its /pipeline or /multi-exec waits: applied in full, the link stays usable (HTTP/1, HTTP/2)', async () => {
    // a long command timeout: the paused Redis must not turn this into a timeout test
    const { redis, k, io, base } = await startStack({ command_timeout: '20s' }, { http2: true });
    const ways = [
        ['HTTP/1, socket closed', (path, body) => http1Request(k, path, body)],
        ['HTTP/2, stream reset', (path, body) => http2Request(k, path, body, { closeConnection: false })],
        ['HTTP/2, connection closed', (path, body) => http2Request(k, path, body, { closeConnection: true })],
    ];
    try {
        const h2 = await http2Post(k, '/pipeline', [['SET', 'gone:h2', 'v'], ['GET', 'gone:h2']]);
        assert.equal(h2.status, 200, 'kvedge answers HTTP/2 with prior knowledge');
        assert.deepEqual(JSON.parse(h2.body), [{ result: 'OK' }, { result: 'v' }]);
        let round = 0;
        for (const [way, send] of ways) {
            for (const path of ['/pipeline', '/multi-exec']) {
                const what = `${way} ${path}`;
                const n = `gone:n${++round}`;
                const a = `gone:a${round}`;
                const commands = [['INCR', n], ['SET', a, 'x'.repeat(1000)], ['INCR', n], ['RPUSH', `${a}:l`, '1', '2', '3']];
                await redis.kill('SIGSTOP');
                const pending = send(path, JSON.stringify(commands));
                // every command is on its way to the paused Redis (the gauge counts the batch's commands, not the
                // driver's own MULTI/EXEC or ROLE)
                const sent = commands.length;
                await waitFor(async () => (await inflight(k)) >= sent, { message: `${what}: commands sent` });
                pending.abandon();
                await sleep(100); // kvedge sees the hangup (HTTP/2) or not yet (HTTP/1: at its write)
                await redis.kill('SIGCONT');
                await waitFor(async () => (await inflight(k)) === 0, { message: `${what}: every reply in` });
                assert.equal(await io.get(n), '2', `${what}: applied in full`);
                assert.equal((await io.get(a))?.length, 1000, what);
                assert.deepEqual(await io.lrange(`${a}:l`, 0, -1), ['1', '2', '3'], what);
                // no MULTI left open on the shared link: a GET answers its value, not QUEUED
                expectJson(await post(base, '/pipeline', [['GET', n], ['LLEN', `${a}:l`]]), 200, [{ result: '2' }, { result: 3 }], what);
                expectJson(await post(base, '/multi-exec', [['INCR', n], ['GET', n]]), 200, [{ result: 3 }, { result: '3' }], what);
            }
        }
        assert.ok(k.running);
    } finally {
        await stopKvedgeThen(k, redis); // asserts a clean exit (no sanitizer report)
    }
});

// =============================================================================================
// Redis killed

test('Redis killed while a long pipeline is in flight: one JSON 503, kvedge stays up and recovers after the restart', async () => {
    const { redis, k, io, base } = await startStack({ command_timeout: '20s' });
    const commands = Array.from({ length: 1000 }, (_, i) => ['SET', `kill:${i}`, String(i)]);
    const expected = commands.map(() => ({ result: 'OK' }));
    try {
        expectJson(await post(base, '/pipeline', [['PING']]), 200, [{ result: 'PONG' }]);
        // SIGSTOP first, so the whole pipeline is surely in flight when the SIGKILL lands
        await redis.kill('SIGSTOP');
        const t0 = Date.now();
        const pending = post(base, '/pipeline', commands);
        const transaction = post(base, '/multi-exec', commands.slice(0, 10));
        // a /pipeline longer than 128 commands keeps 128 in flight (kv_rest.c WINDOW); the transaction is sent whole
        await waitFor(async () => (await inflight(k)) >= 128 + 10, { message: 'both requests sent' });
        await redis.kill('SIGKILL');
        for (const r of [await pending, await transaction]) {
            expectJson(r, 503, { error: 'ERR kv store connection failed' });
            assert.ok(Date.now() - t0 < 5000 * SLOW, `answered after ${Date.now() - t0} ms`);
        }
        // while Redis is down (refused at once, or failed by a reconnect attempt that is under way)
        const down = await post(base, '/pipeline', [['PING']]);
        assert.equal(down.status, 503);
        assert.match(parse(down).error, /^ERR kv store (unavailable|connection failed)$/);
        assert.ok(k.running, 'kvedge did not crash');
        await redis.restart();
        await waitFor(async () => (await post(base, '', ['PING'])).status === 200, { message: '200 after the restart' });
        expectJson(await post(base, '/pipeline', commands), 200, expected, 'the same pipeline after the restart');
        assert.equal(await io.get('kill:999'), '999');
        expectJson(await post(base, '/multi-exec', [['INCR', 'kill:n'], ['INCR', 'kill:n']]), 200, [{ result: 1 }, { result: 2 }]);
    } finally {
        await stopKvedgeThen(k, redis);
    }
});
