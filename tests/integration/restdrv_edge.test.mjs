// examples/edge.yaml as written (issue 9.4): kvedge A with no Redis of its own, its KV API and a cached route served
// from a KV REST store, here kvedge B's /kv on a real redis-server (the example's KV_REST_API_URL / _TOKEN), the
// route's origin a recording upstream. What passes through, what is cached, and what answers 501.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { assertCleanExit, freePort, http, SOURCE_DIR, startKvedge } from './harness.mjs';
import { startKvStack, RW_TOKEN } from './kv_helpers.mjs';
import { assertStatus, get, seen, startOrigin, storedKeys } from './cache_helpers.mjs';

test('issue 9.4: examples/edge.yaml runs against a REST store: the KV API passes through, /api is cached there, /subscribe is 501', async () => {
    const b = await startKvStack();
    const origin = await startOrigin();
    let a;
    try {
        const port = await freePort();
        const text = fs.readFileSync(path.join(SOURCE_DIR, 'examples/edge.yaml'), 'utf8').replace(/port: 8080\b/, `port: ${port}`);
        a = await startKvedge(text, {
            port,
            waitReady: true,
            env: { KV_REST_API_URL: b.url, KV_REST_API_TOKEN: RW_TOKEN, EDGE_ORIGIN: `${origin.url}/` },
        });
        const auth = { authorization: 'Bearer kvedge-edge-example-token' };
        const set = await http('POST', `${a.url}/kv/set/edge:k`, { headers: auth, body: 'v1' });
        assert.equal(set.status, 200, set.body);
        assert.equal(await b.io.get('edge:k'), 'v1', 'the write reached the central store');
        const got = await http('GET', `${a.url}/kv/get/edge:k`, { headers: auth });
        assert.equal(JSON.parse(got.body).result, 'v1');
        const ro = await http('POST', `${a.url}/kv/set/edge:k`, { headers: { authorization: 'Bearer kvedge-edge-example-read-only' }, body: 'x' });
        assert.equal(ro.status, 400, ro.body);
        assert.match(JSON.parse(ro.body).error, /^NOPERM/, 'the edge\'s own read-only token is enforced by the edge');
        const miss = await get(a, '/api/fresh/e');
        assertStatus(miss, /fwd=uri-miss; fwd-status=200; stored/);
        await storedKeys(b.io, 2); // the store batch may still be on its way (restdrv_cache.test.mjs)
        assertStatus(await get(a, '/api/fresh/e'), /hit/);
        assert.equal(seen(origin, '/fresh/e'), 1);
        const sub = await http('GET', `${a.url}/kv/subscribe/edge:chan`, { headers: { ...auth, accept: 'text/event-stream' } });
        assert.equal(sub.status, 501, sub.body);
    } finally {
        if (a) assertCleanExit(await a.stop(), 'kvedge A');
        await origin.stop();
        await b.stop();
    }
});
