// The KV REST driver's retries (issue 9.1): after a network error before any answer (the store closed a kept-alive
// connection as it was reused, or reset it), the reads of the request are sent once more on a new connection; writes
// never (their outcome is unknown: KVE_ECONN, 503 "kv store connection failed" at the KV API). The store is a node
// server in the test (restdrv_fakestore.mjs) that closes the connection at the right moment.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { http, assertCleanExit } from './harness.mjs';
import { RW_TOKEN } from './kv_helpers.mjs';
import { startEdge } from './restdrv_helpers.mjs';
import { startFakeStore } from './restdrv_fakestore.mjs';

const auth = { authorization: `Bearer ${RW_TOKEN}` };
let store;
let a;

before(async () => {
    store = await startFakeStore();
    a = await startEdge(store.url, { extra: { threads: 1 } });
});

after(async () => {
    if (a) assertCleanExit(await a.k.stop(), 'kvedge A');
    if (store) await store.stop();
});

const cmd = (c) => http('POST', `${a.url}/`, { headers: auth, body: JSON.stringify(c), timeoutMs: 8000 });
const has = (name, key) => (cmds) => cmds.some((c) => c[0] === name && c[1] === key);

async function metric(name) {
    const m = await http('GET', `${a.k.adminUrl}metrics`);
    const line = m.body.split('\n').find((l) => l.startsWith(`${name}{store="central"}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
}

/* a request just before, so that the next one goes on the kept-alive connection */
async function warm() {
    const r = await cmd(['GET', 'warm']);
    assert.equal(r.status, 200, r.body);
}

test('issue 9.1: a read on a kept-alive connection the store closed before answering is sent again on a new connection', async () => {
    store.data.set('r:k', 'v1');
    const before = await metric('kvedge_kv_retries_total');
    await warm();
    store.trap((cmds, e) => e.reused && has('GET', 'r:k')(cmds));
    const r = await cmd(['GET', 'r:k']);
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).result, 'v1');
    const sent = store.log.filter((e) => Array.isArray(e.cmds) && has('GET', 'r:k')(e.cmds));
    assert.equal(sent.length, 2, JSON.stringify(sent));
    assert.equal(sent[0].trapped, 'close');
    assert.equal(sent[0].reused, true, 'the first went on the kept-alive connection');
    assert.equal(sent[1].reused, false, 'the retry went on a new connection');
    assert.equal((await metric('kvedge_kv_retries_total')) - before, 1);
});

test('issue 9.1: a read whose connection is reset before the answer is retried too', async () => {
    store.data.set('r:reset', 'v2');
    await warm();
    store.trap(has('GET', 'r:reset'), 'reset');
    const r = await cmd(['GET', 'r:reset']);
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).result, 'v2');
    assert.equal(store.log.filter((e) => Array.isArray(e.cmds) && has('GET', 'r:reset')(e.cmds)).length, 2);
});

test('issue 9.1: a write whose answer was lost is never sent again: 503 "kv store connection failed"', async () => {
    await warm();
    store.trap((cmds, e) => e.reused && has('SET', 'w:k')(cmds));
    const r = await cmd(['SET', 'w:k', 'x']);
    assert.equal(r.status, 503, r.body);
    assert.match(JSON.parse(r.body).error, /kv store connection failed/);
    await new Promise((res) => setTimeout(res, 200)); // nothing comes later either
    assert.equal(store.commands('SET').filter((e) => has('SET', 'w:k')(e.cmds)).length, 1, 'sent once');
    const again = await cmd(['GET', 'warm']);
    assert.equal(again.status, 200, 'the link still serves');
});

test('issue 9.1: in a pipeline that lost its answer, the reads are sent again alone, the writes are not', async () => {
    store.data.set('m:r', 'mv');
    await warm();
    store.trap((cmds) => has('SET', 'm:w')(cmds) && has('GET', 'm:r')(cmds));
    const r = await http('POST', `${a.url}/pipeline`, {
        headers: auth,
        body: JSON.stringify([['SET', 'm:w', '1'], ['GET', 'm:r'], ['INCR', 'm:n']]),
        timeoutMs: 8000,
    });
    // the KV API answers a pipeline whose commands the link failed with 503 as a whole (kv_rest.c); which commands
    // were sent again shows at the store
    assert.equal(r.status, 503, r.body);
    assert.match(JSON.parse(r.body).error, /kv store connection failed/);
    const trapped = store.log.findIndex((e) => e.trapped && has('SET', 'm:w')(e.cmds));
    const retry = store.log[trapped + 1];
    assert.deepEqual(retry.cmds, [['GET', 'm:r']], 'only the read is sent again');
    assert.equal(retry.reused, false);
    assert.equal(store.data.has('m:w'), false);
});

test('issue 9.1: a read is retried once only: a second failure is a clean 503', async () => {
    await warm();
    store.trap(has('GET', 'r:twice'), 'close', 2);
    const r = await cmd(['GET', 'r:twice']);
    assert.equal(r.status, 503, r.body);
    assert.match(JSON.parse(r.body).error, /kv store connection failed/);
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(store.log.filter((e) => Array.isArray(e.cmds) && has('GET', 'r:twice')(e.cmds)).length, 2);
});

test('issue 9.3: /metrics has per-pipeline counters of the REST link', async () => {
    const m = (await http('GET', `${a.k.adminUrl}metrics`)).body;
    for (const name of ['pipelines_total', 'pipeline_errors_total', 'bytes_sent_total', 'bytes_received_total', 'retries_total'])
        assert.match(m, new RegExp(`kvedge_kv_${name}\\{store="central"\\} [1-9]`), name);
    assert.match(m, /kvedge_kv_pipeline_commands_bucket\{store="central",le="1"\} [1-9]/);
    assert.match(m, /kvedge_kv_pipeline_commands_bucket\{store="central",le="4"\} [1-9]/); // the 3-command pipeline
    assert.match(m, /kvedge_kv_pipeline_commands_bucket\{store="central",le="\+Inf"\} [1-9]/);
    const count = Number(m.match(/kvedge_kv_pipeline_commands_count\{store="central"\} (\d+)/)[1]);
    assert.equal(count, await metric('kvedge_kv_pipelines_total'));
    assert.match(m, /kvedge_kv_pipeline_commands_sum\{store="central"\} [1-9]/);
});
