// The KV REST driver (issue 9): kvedge A serves its KV API from a KV REST store that is kvedge B's /kv, B on a
// real redis-server. The SDK and plain HTTP against A work, the data lands in B's Redis, binary values
// round-trip, /readyz and /metrics cover the REST link.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from '@upstash/redis';

import { http, assertCleanExit } from './harness.mjs';
import { RW_TOKEN } from './kv_helpers.mjs';
import { startPair } from './restdrv_helpers.mjs';

let pair;
before(async () => {
    pair = await startPair();
});
after(async () => {
    if (pair) assertCleanExit(await pair.stop(), 'kvedge A');
});

const auth = { authorization: `Bearer ${RW_TOKEN}` };

test('issue 9: the Upstash SDK against A works through the REST store; the data lands in B\'s Redis', async () => {
    const redis = new Redis({ url: pair.a.url, token: RW_TOKEN, retry: false, enableTelemetry: false });
    assert.equal(await redis.set('rd:obj', { a: 1, s: '😀' }), 'OK');
    assert.deepEqual(await redis.get('rd:obj'), { a: 1, s: '😀' });
    assert.equal(await redis.incr('rd:n'), 1);
    await redis.hset('rd:h', { f1: 'v1', f2: 2 });
    assert.deepEqual(await redis.hgetall('rd:h'), { f1: 'v1', f2: 2 });
    const p = await redis.pipeline().set('rd:p', 'OK').get('rd:p').mget('rd:p', 'rd:none').exec();
    assert.deepEqual(p, ['OK', 'OK', ['OK', null]]);
    assert.deepEqual(await redis.multi().set('rd:t', 1).incr('rd:t').exec(), ['OK', 2]);
    await assert.rejects(redis.hget('rd:obj', 'x'), /WRONGTYPE/);
    // in B's Redis, as written
    assert.equal(await pair.b.io.get('rd:obj'), JSON.stringify({ a: 1, s: '😀' }));
    assert.equal(await pair.b.io.get('rd:n'), '1');
    assert.equal(await pair.b.io.get('rd:t'), '2');
});

test('issue 9: plain HTTP against A: a discarded transaction answers 400 with B\'s reason and applies nothing', async () => {
    const r = await http('POST', `${pair.a.url}/multi-exec`, { headers: auth, body: JSON.stringify([['SET', 'rd:x', '1'], ['NOSUCHCMD']]) });
    assert.equal(r.status, 400, r.body);
    assert.match(JSON.parse(r.body).error, /unknown command/i);
    assert.equal(await pair.b.io.get('rd:x'), null);
});

test('issue 9: binary values (NUL bytes, invalid UTF-8) round-trip exactly through the REST store', async () => {
    const value = Buffer.from([0x61, 0x00, 0xff, 0xfe, 0xc0, 0x80, 0x00, 0x7a]);
    const set = await http('POST', `${pair.a.url}/set/rd:bin`, { headers: auth, body: value });
    assert.equal(set.status, 200, set.body);
    assert.deepEqual(await pair.b.io.getBuffer('rd:bin'), value, 'B\'s Redis holds the exact bytes');
    const get = await http('POST', `${pair.a.url}/get/rd:bin`, { headers: { ...auth, 'upstash-encoding': 'base64' } });
    assert.equal(get.status, 200, get.body);
    assert.deepEqual(Buffer.from(JSON.parse(get.body).result, 'base64'), value);
    // a value written in B's Redis with those bytes reads back the same through A's pipeline
    await pair.b.io.set('rd:bin2', Buffer.from([0xff, 0x00, 0x01]));
    const p = await http('POST', `${pair.a.url}/pipeline`, { headers: { ...auth, 'upstash-encoding': 'base64' }, body: JSON.stringify([['GET', 'rd:bin2'], ['STRLEN', 'rd:bin2']]) });
    assert.equal(p.status, 200, p.body);
    const entries = JSON.parse(p.body);
    assert.deepEqual(Buffer.from(entries[0].result, 'base64'), Buffer.from([0xff, 0x00, 0x01]));
    assert.equal(entries[1].result, 3);
});

test('issue 9: 64 concurrent requests through A all land in B', async () => {
    const rs = await Promise.all(
        Array.from({ length: 64 }, () => http('POST', `${pair.a.url}/`, { headers: auth, body: JSON.stringify(['INCR', 'rd:conc']) })),
    );
    assert.ok(rs.every((r) => r.status === 200));
    assert.deepEqual(rs.map((r) => JSON.parse(r.body).result).sort((x, y) => x - y), Array.from({ length: 64 }, (_, i) => i + 1));
    assert.equal(await pair.b.io.get('rd:conc'), '64');
});

// (whether concurrent requests share a /pipeline depends on their arriving in one event-loop turn, which a loaded
// machine does not promise: the unit suite checks that two batches of one turn share one request, sync test)
test('issue 9: the commands of one batch go to B in one /pipeline, not one request each', async () => {
    const requestsBefore = await metricSum(pair.b.k, 'kvedge_http_requests_total{');
    const body = JSON.stringify(Array.from({ length: 64 }, () => ['INCR', 'rd:pipe']));
    const r = await http('POST', `${pair.a.url}/pipeline`, { headers: auth, body });
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body)[63].result, 64);
    const requests = (await metricSum(pair.b.k, 'kvedge_http_requests_total{')) - requestsBefore;
    assert.ok(requests <= 8, `B answered ${requests} HTTP requests for a 64-command pipeline`);
});

test('issue 9: /readyz and /metrics cover the REST link', async () => {
    const ready = await http('GET', `${pair.a.k.adminUrl}readyz`);
    assert.equal(ready.status, 200, ready.body);
    const m = await http('GET', `${pair.a.k.adminUrl}metrics`);
    assert.match(m.body, /kvedge_kv_link_up\{store="central",thread="0"\} 1/);
    assert.match(m.body, /kvedge_kv_commands_total\{store="central"\} [1-9]/);
});

async function metricSum(k, prefix) {
    const m = await http('GET', `${k.adminUrl}metrics`);
    return m.body
        .split('\n')
        .filter((l) => l.startsWith(prefix))
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

test('issue 9: /subscribe and /psubscribe on a REST store answer 501 with a clear error (streams need a Redis store)', async () => {
    for (const path of ['/subscribe/rd:chan', '/psubscribe/rd:*']) { // (/monitor is refused by the policy first)
        const r = await http('GET', `${pair.a.url}${path}`, { headers: { ...auth, accept: 'text/event-stream' } });
        assert.equal(r.status, 501, `${path}: ${r.body}`);
        assert.match(r.body, /not supported by this kv store \(subscribe and monitor streams need a Redis store\)/);
    }
    assert.equal((await http('GET', `${pair.a.url}/get/rd:obj`, { headers: auth })).status, 200, 'A still serves');
});
