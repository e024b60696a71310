// The KV REST driver's upstash-sync-token is kept per store, shared by every thread's link (issue 9.3): after a write
// answered with token T on one thread, every read that follows, on any thread, carries a token >= T. The store is a
// node server in the test (restdrv_fakestore.mjs) whose token counts its writes and comes with every answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { http, assertCleanExit } from './harness.mjs';
import { RW_TOKEN } from './kv_helpers.mjs';
import { startEdge } from './restdrv_helpers.mjs';
import { startFakeStore } from './restdrv_fakestore.mjs';

const auth = { authorization: `Bearer ${RW_TOKEN}` };

test('issue 9.3: a write on one thread is followed by reads carrying its sync token on every thread', async () => {
    let writes = 1000;
    const store = await startFakeStore({
        syncToken: (n, cmds) => {
            if (Array.isArray(cmds) && cmds.some((c) => c[0] === 'SET')) writes++;
            return writes;
        },
    });
    let a;
    try {
        a = await startEdge(store.url, { extra: { threads: 4 } });
        const cmd = (c) => http('POST', `${a.url}/`, { headers: auth, body: JSON.stringify(c), timeoutMs: 8000 });
        // every thread's link has had answers (older tokens) before the writes
        for (let i = 0; i < 16; i++) assert.equal((await cmd(['GET', 's:warm'])).status, 200);
        const stale = [];
        const conns = new Set();
        // at least 4 rounds, more (up to 20) until the reads have gone through two threads' links at least
        for (let round = 0; round < 20 && (round < 4 || conns.size < 2); round++) {
            const w = await cmd(['SET', `s:k${round}`, 'v']); // a new connection: any thread
            assert.equal(w.status, 200, w.body);
            const token = writes; // what the write was answered with
            const from = store.log.length;
            for (let i = 0; i < 12; i++) assert.equal((await cmd(['GET', `s:k${round}`])).status, 200);
            for (const e of store.log.slice(from)) {
                conns.add(e.conn);
                if (!(Number(e.token) >= token)) stale.push({ round, token, sent: e.token, conn: e.conn });
            }
        }
        assert.ok(conns.size >= 2, `the reads went over ${conns.size} connection(s): several threads are needed`);
        assert.deepEqual(stale, [], 'reads sent with a token older than the write before them');
    } finally {
        if (a) assertCleanExit(await a.k.stop(), 'kvedge A');
        await store.stop();
    }
});
