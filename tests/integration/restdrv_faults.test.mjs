// The KV REST driver (issue 9) when its store misbehaves: kvedge A's KV API on a REST store. B (a real kvedge on a
// real redis-server) down and back; B refusing A's token; an upstream answering garbage, nothing, a 5xx, or
// closing mid-reply. Each is a clean error at A's clients, nothing hangs, A exits clean (no leak in the ASan build).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { http, startKvedge, startUpstream, waitFor, assertCleanExit, HOST } from './harness.mjs';
import { kvConfig, startKvStack, RW_TOKEN } from './kv_helpers.mjs';
import { startEdge, startPair } from './restdrv_helpers.mjs';

const auth = { authorization: `Bearer ${RW_TOKEN}` };
const get = (url, key = 'f:k') => http('POST', `${url}/`, { headers: auth, body: JSON.stringify(['GET', key]), timeoutMs: 8000 });

test('issue 9: B down -> A answers 503 at once, and recovers when B is back', async () => {
    const pair = await startPair();
    let b2;
    try {
        await pair.b.io.set('f:k', 'v1');
        const first = await get(pair.a.url);
        assert.equal(first.status, 200, first.body);
        assert.equal(JSON.parse(first.body).result, 'v1');
        const port = pair.b.k.port;
        assertCleanExit(await pair.b.k.stop(), 'kvedge B');
        const t0 = Date.now();
        const down = await get(pair.a.url);
        assert.equal(down.status, 503, down.body);
        assert.match(JSON.parse(down.body).error, /kv store/);
        assert.ok(Date.now() - t0 < 3000, 'a clean error, not a hang');
        // B back on the same port: A's link probes and comes up
        const cfg = kvConfig(pair.b.redis.url);
        cfg.listen = [{ host: HOST, port }];
        b2 = await startKvedge(cfg);
        // every thread's link comes back (/readyz PINGs each; a link still in its backoff fails its PING at once)
        await waitFor(async () => (await http('GET', `${pair.a.k.adminUrl}readyz`)).status === 200, {
            timeoutMs: 10_000,
            message: 'A recovers',
        });
        for (let i = 0; i < 4; i++) {
            const back = await get(pair.a.url);
            assert.equal(JSON.parse(back.body).result, 'v1', back.body);
        }
        assert.match(pair.a.k.stderr(), /kv-rest: link to http:\/\/127\.0\.0\.1:\d+\/kv \(store central\) is down/);
    } finally {
        if (b2) assertCleanExit(await b2.stop(), 'kvedge B again');
        assertCleanExit(await pair.a.k.stop(), 'kvedge A');
        await pair.b.stop();
    }
});

test('issue 9: B refuses A\'s token (401) -> a clear 503 and one log line, without the token', async () => {
    const wrong = 'wrong-token-do-not-log-0123456789';
    const pair = await startPair({ a: { token: wrong } });
    try {
        for (let i = 0; i < 3; i++) {
            const r = await get(pair.a.url);
            assert.equal(r.status, 503, r.body);
            assert.match(JSON.parse(r.body).error, /refused the credentials/);
        }
        await new Promise((r) => setTimeout(r, 500)); // a few probes more
        const log = pair.a.k.stderr();
        const lines = log.split('\n').filter((l) => /refused kvedge's token \(HTTP 401\)/.test(l));
        assert.ok(lines.length >= 1 && lines.length <= 2, `one line per link (2 threads): ${lines.length}\n${log}`);
        assert.ok(!log.includes(wrong), 'the token is never logged');
    } finally {
        assertCleanExit(await pair.stop(), 'kvedge A');
    }
});

/* an upstream that answers every request with `answer(req, res)` (the PING probe included) */
async function withUpstream(answer, fn, extra = {}) {
    const up = await startUpstream(answer);
    let a;
    try {
        a = await startEdge(`${up.url}/kv`, { store: { command_timeout: '1s' }, extra });
        await fn(a, up);
    } finally {
        if (a) assertCleanExit(await a.k.stop(), 'kvedge A');
        await up.stop();
    }
}

test('issue 9: an upstream answering garbage, a 5xx, 429 or 413 -> clean errors', async () => {
    let mode = 'garbage';
    await withUpstream(
        (req, res) => {
            if (mode === 'garbage') {
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end('{"result": not json');
            } else {
                res.writeHead(Number(mode), { 'content-type': 'application/json' });
                res.end('{"error":"nope"}');
            }
        },
        async (a) => {
            for (const [m, status] of [['garbage', 503], ['500', 503], ['502', 503], ['429', 429], ['413', 413]]) {
                mode = m;
                const r = await get(a.url);
                assert.equal(r.status, status, `${m}: ${r.body}`);
                assert.ok(JSON.parse(r.body).error, r.body);
            }
        },
    );
});

test('issue 9: an upstream that never answers, or closes mid-reply -> 504 / 503, nothing hangs', async () => {
    let mode = 'ping';
    await withUpstream(
        (req, res, body) => {
            if (mode === 'ping' || body === '[["PING"]]') {
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end('[{"result":"UE9ORw=="}]');
            } else if (mode === 'close') {
                res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
                res.write('[{"result":');
                setTimeout(() => res.socket.destroy(), 20);
            }
            // 'slow': no answer at all
        },
        async (a) => {
            mode = 'slow';
            const t0 = Date.now();
            const slow = await get(a.url);
            assert.equal(slow.status, 504, slow.body);
            assert.ok(Date.now() - t0 < 4000, `answered after ${Date.now() - t0} ms`);
            mode = 'close';
            const cut = await get(a.url);
            assert.equal(cut.status, 503, cut.body);
        },
    );
});

test('issue 9: upstash-sync-token: the highest one received is kept per link and sent on every request', async () => {
    const tokens = ['7', '42', '9', 'not-a-number-but-kept']; // 9 is lower than 42: not taken
    let i = 0;
    await withUpstream(
        (req, res, body) => {
            const headers = { 'content-type': 'application/json' };
            if (body !== '[["PING"]]' && i < tokens.length) headers['upstash-sync-token'] = tokens[i++];
            res.writeHead(200, headers);
            const n = JSON.parse(body).length;
            res.end(JSON.stringify(Array.from({ length: n }, () => ({ result: 'T0s=' }))));
        },
        async (a, up) => {
            const seen = [];
            for (let k = 0; k < 8; k++) {
                const r = await get(a.url);
                assert.equal(r.status, 200, r.body);
            }
            for (const rq of up.requests) if (rq.body !== '[["PING"]]') seen.push(rq.headers['upstash-sync-token'] ?? '');
            // one thread, one link: "" before any token, then the highest decimal one (9 < 42 is not taken); a token
            // that is not a number (Upstash's are opaque) replaces it
            assert.deepEqual(seen.slice(0, 5), ['', '7', '42', '42', 'not-a-number-but-kept']);
            assert.ok(seen.slice(5).every((t) => t === 'not-a-number-but-kept'), JSON.stringify(seen));
        },
        { threads: 1 },
    );
});
