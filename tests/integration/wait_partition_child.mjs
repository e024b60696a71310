// Issue 12 (scale-out), min_replicas_ack under a partition: run by scale_wait.test.mjs inside a network namespace of
// its own (`unshare -n`), where everything is on loopback. The primary binds 127.0.0.1 (kvedge's links) and 127.0.0.2
// (its replica's link). Writers go through kvedge; after a while the replication link is cut (tc: every packet from or
// to 127.0.0.2 goes to an htb class of 8 bit/s whose tbf holds one packet, so in effect nothing passes); writes go on
// for a while; then the failover: the primary is killed (-9) and the replica promoted (REPLICAOF NO ONE), the
// partition still in place, as a Sentinel would. Every write kvedge answered 200 must be on the promoted replica.
// Runs twice, with `min_replicas_ack: 1` and without, and prints `RESULT {json}`.
import { http, sleep, startKvedge } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { hold, netnsLoopback, release } from './netns_tc.mjs';
import { startReplicas } from './topology.mjs';

// the namespace is new: its loopback is down and nothing else exists; the addresses used must be on it
netnsLoopback(['127.0.0.1', '127.0.0.2']);

const cut = () => hold([['ip', 'src', '127.0.0.2/32'], ['ip', 'dst', '127.0.0.2/32']]);
const heal = release;

async function scenario(ack) {
    const t = await startReplicas({ replicas: 1, primaryArgs: ['--bind', '127.0.0.1', '127.0.0.2'], primaryHost: '127.0.0.2' });
    let k;
    const acked = [], statuses = {};
    let writing = true, cutAt = 0;
    const lateAcks = [];
    try {
        const redis = { url: t.url, command_timeout: '2s', ...(ack ? { min_replicas_ack: 1, min_replicas_ack_timeout: '100ms' } : {}) };
        k = await startKvedge(kvConfig(redis, {}, { threads: 2 }));
        const writers = Array.from({ length: 8 }, async (_, c) => {
            for (let i = 0; writing; i++) {
                const key = `w:${c}:${i}`, start = Date.now();
                const r = await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(['SET', key, String(i)]) });
                statuses[r.status] = (statuses[r.status] ?? 0) + 1;
                if (r.status === 200) {
                    acked.push(key);
                    if (cutAt && start > cutAt + 200) lateAcks.push(key);
                } else if (r.status !== 503 || !/write not acknowledged/.test(r.body)) {
                    throw new Error(`unexpected answer ${r.status} ${r.body}`);
                }
            }
        });
        await sleep(1000);
        const beforeCut = acked.length;
        cut();
        cutAt = Date.now();
        await sleep(1500);
        writing = false;
        await Promise.all(writers);
        // the failover, the partition still in place: the old primary dies, its replica takes over with what it has
        await t.primary.kill('SIGKILL');
        await t.clients.replicas[0].call('REPLICAOF', 'NO', 'ONE');
        const promoted = t.clients.replicas[0];
        let lost = 0;
        for (let i = 0; i < acked.length; i += 500) {
            const keys = acked.slice(i, i + 500);
            const values = await promoted.mget(...keys);
            lost += values.filter((v) => v === null).length;
        }
        const stop = await k.stop();
        return { ack, acked: acked.length, beforeCut, lateAcks: lateAcks.length, lost, statuses, exit: { code: stop.code, signal: stop.signal, stderr: stop.stderr.slice(-4000) } };
    } finally {
        writing = false;
        heal();
        if (k?.running) await k.stop();
        await t.stop();
    }
}

const withAck = await scenario(true);
const without = await scenario(false);
console.log(`RESULT ${JSON.stringify({ withAck, without })}`);
