// KV streams (SSE /subscribe, /psubscribe, /monitor) when things go wrong: Redis hung (SIGSTOP) while a
// stream connects, a handshake Redis refuses (no or wrong password), Redis killed or restarted under a
// started stream, a subscriber that stops reading, and the kv.max_streams cap. Every test ends with a
// clean exit (exit 0, no sanitizer report in the ASan build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import httpMod from 'node:http';
import { http, SANITIZE, sleep, startKvedge, startRedis, stopKvedgeAndRedis, waitFor } from './harness.mjs';
import { kvConfig, RO_TOKEN, RW_TOKEN } from './kv_helpers.mjs';

/** time bounds are stretched in sanitizer builds */
const SLOW = SANITIZE ? 3 : 1;

const auth = (token = RW_TOKEN) => ({ authorization: `Bearer ${token}` });

/**
 * Opens a streaming GET and reads it incrementally. Resolves once the response headers are in with
 * {status, headers, text(), dataLines(), waitData(pred|string), ended (resolves with the text), close(), pause()}.
 */
function openStream(url, { token = RW_TOKEN } = {}) {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
        const r = httpMod.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET', agent: false,
            headers: { accept: 'text/event-stream', ...auth(token) } });
        r.on('error', reject);
        r.setTimeout(60_000, () => r.destroy(new Error('stream timed out')));
        r.on('response', (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            const ended = new Promise((ok) => {
                res.on('end', () => ok(text));
                res.on('error', () => ok(text));
                res.on('close', () => ok(text));
            });
            const dataLines = () => text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
            resolve({
                status: res.statusCode,
                headers: res.headers,
                text: () => text,
                dataLines,
                ended,
                waitData(pred, timeoutMs = 5000 * SLOW) {
                    const f = typeof pred === 'string' ? (lines) => lines.includes(pred) : pred;
                    return waitFor(() => f(dataLines()), { timeoutMs, intervalMs: 10, message: `SSE data ${pred}; got ${JSON.stringify(text)}` });
                },
                close() {
                    r.destroy();
                },
            });
        });
        r.end();
    });
}

/** A JSON error response: status, content type and {"error": <text matching re>}. */
function expectError(r, status, re, what = '') {
    assert.equal(r.status, status, `${what} status (body ${r.body.slice(0, 300)})`);
    assert.equal(r.headers['content-type'], 'application/json', what);
    const body = JSON.parse(r.body);
    assert.deepEqual(Object.keys(body), ['error'], what);
    assert.match(body.error, re, what);
}

/** A subscription that works end to end: 200, the subscribe event, then a published message. */
async function assertSubscribeWorks(base, io, channel) {
    const s = await openStream(`${base}/subscribe/${channel}`);
    try {
        assert.equal(s.status, 200);
        await s.waitData(`subscribe,${channel},1`);
        await io.publish(channel, 'hi');
        await s.waitData(`message,${channel},hi`);
    } finally {
        s.close();
    }
}

test('subscribe while Redis is SIGSTOPped: 504 JSON within about connect_timeout, kvedge stays up and recovers', async () => {
    const redis = await startRedis();
    const k = await startKvedge(kvConfig({ url: redis.url, connect_timeout: '500ms' }));
    const io = redis.client();
    const base = `${k.url}/kv`;
    try {
        await assertSubscribeWorks(base, io, 'before');
        await redis.kill('SIGSTOP');
        for (let i = 0; i < 3; i++) {
            const t0 = Date.now();
            const r = await http('GET', `${base}/subscribe/stopped`, { headers: auth(), timeoutMs: 10_000 });
            const ms = Date.now() - t0;
            expectError(r, 504, /^ERR .*timed out/, 'hung Redis');
            assert.ok(ms >= 400 && ms < 1500 * SLOW, `answered after ${ms} ms (connect_timeout 500 ms)`);
        }
        assert.equal((await http('GET', `${k.url}/healthz`)).status, 200, 'kvedge is still up');
        assert.match(k.stderr(), /subscription stream ended: kv command timed out/);
        await redis.kill('SIGCONT');
        await assertSubscribeWorks(base, io, 'after');
    } finally {
        io.disconnect();
        await stopKvedgeAndRedis(k, redis);
    }
});
