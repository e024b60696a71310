// Issue 12 (scale-out), min_replicas_ack on a Redis Cluster store under a partition: run by cluster_partition.test.mjs
// inside a network namespace of its own (`unshare -n`), where everything is on the namespace's loopback.
//
// A cluster of 3 primaries and 3 replicas (topology.mjs startCluster, cluster-node-timeout 1000 ms). Every node serves
// and announces 127.0.0.1 (`cluster-announce-ip`), but opens its own connections (the cluster bus, a replica's link to
// its primary) from a source address of its own kind (`bind-source-addr`): node 0, the primary P that gets cut off,
// from 127.0.0.2, every other node from 127.0.0.3. kvedge and this process connect from 127.0.0.1. That is what lets
// the partition be told apart from kvedge's traffic: every node opens its links from ephemeral ports, so ports alone
// cannot say who a packet belongs to (kvedge and P's replica both reach P's client port from an ephemeral port).
// (protected-mode is off: Redis takes only 127.0.0.1 itself as local, and would refuse the replica at 127.0.0.3.)
//
// The cut (tc on lo, as wait_partition_child.mjs: u32 filters send the packets into an htb class of 8 bit/s whose tbf
// holds one packet, so in effect nothing passes; this kernel has no drop action and no nft here):
//   - every packet from or to 127.0.0.2 (P's own links to the other nodes' cluster buses, and their answers),
//   - every packet from or to P's cluster-bus port (the other nodes' links to P),
//   - every packet between 127.0.0.3 and P's client port (P's replica's replication link),
// so P is cut off from every other node both ways, while kvedge (127.0.0.1) still reaches P's client port.
//
// Two kvedges on the cluster, each reaching every node: one with `min_replicas_ack: 1`, one without (the control).
// Writers in each write distinct keys in one of P's slots; after 1 s the cut; writes go on until the other nodes have
// promoted P's replica R (R says role:master), and 1.5 s more (where kvedge sends P's slots then); then the heal; P rejoins as R's replica (a full sync from R: the writes
// P took alone are discarded), and every key each kvedge answered 200 is read back from R. Prints `RESULT {json}`.
import { http, sleep, startKvedge, waitFor } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { hold, netnsLoopback, release } from './netns_tc.mjs';
import { startCluster } from './topology.mjs';

const P_SRC = '127.0.0.2', OTHERS_SRC = '127.0.0.3';
const NODE_TIMEOUT_MS = 1000;
const WRITERS = 4;
// writes go on this long after the promotion, before the heal: where does kvedge send P's slots then?
const AFTER_FAILOVER_MS = 1500;

// the namespace is new: its loopback is down and nothing else exists; the addresses used must be on it
netnsLoopback(['127.0.0.1', P_SRC, OTHERS_SRC]);

/** The u32 matches (each a list of words after `match`) whose packets the cut holds. */
function cutMatches(pClient, pBus) {
    return [
        ['ip', 'src', `${P_SRC}/32`],
        ['ip', 'dst', `${P_SRC}/32`],
        ['ip', 'sport', String(pBus), '0xffff'],
        ['ip', 'dport', String(pBus), '0xffff'],
        ['ip', 'src', `${OTHERS_SRC}/32`, 'match', 'ip', 'dport', String(pClient), '0xffff'],
        ['ip', 'dst', `${OTHERS_SRC}/32`, 'match', 'ip', 'sport', String(pClient), '0xffff'],
    ];
}

const cut = (pClient, pBus) => hold(cutMatches(pClient, pBus));
const heal = release;

/** CLUSTER NODES of an ioredis client as [{id, addr, flags, master, slots: [[a, b]...]}]. */
async function clusterNodes(client) {
    return (await client.call('CLUSTER', 'NODES')).trim().split('\n').map((l) => {
        const f = l.split(' ');
        const slots = f.slice(8).filter((s) => /^\d/.test(s)).map((s) => s.split('-').map(Number)).map(([a, b]) => [a, b ?? a]);
        return { id: f[0], addr: f[1].split('@')[0], flags: f[2].split(','), master: f[3], slots };
    });
}

async function role(client) {
    return /^role:(\w+)/m.exec(await client.info('replication'))?.[1];
}

/** Writers through kvedge `k`, keys `{tag}:<name>:<c>:<i>`; each 200 is recorded with when it was sent. */
function writers(k, tag, name, state) {
    const out = { name, acked: [], statuses: {} };
    out.done = Promise.all(Array.from({ length: WRITERS }, async (_, c) => {
        for (let i = 0; state.writing; i++) {
            const key = `{${tag}}:${name}:${c}:${i}`, sentAt = Date.now();
            const r = await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(['SET', key, String(i)]) });
            out.statuses[r.status] = (out.statuses[r.status] ?? 0) + 1;
            if (r.status === 200) {
                if (JSON.parse(r.body).result !== 'OK') throw new Error(`${name}: 200 without OK: ${r.body}`);
                out.acked.push({ key, sentAt });
            } else if (r.status < 500) {
                throw new Error(`${name}: unexpected answer ${r.status} ${r.body}`);
            } else {
                await sleep(10); // 503 / 504: the shard is down or the write not acknowledged; try the next key
            }
        }
    }));
    return out;
}

async function scenario() {
    const c = await startCluster({
        nodeTimeoutMs: NODE_TIMEOUT_MS,
        args: ['--cluster-announce-ip', '127.0.0.1', '--protected-mode', 'no'],
        nodeArgs: (i) => ['--bind-source-addr', i === 0 ? P_SRC : OTHERS_SRC],
    });
    const kvedges = [];
    const state = { writing: true };
    let running = [];
    try {
        // P: node 0 (redis-cli makes the first nodes the primaries); R: its replica
        const view = await clusterNodes(c.clients[0]);
        const pNode = view.find((n) => n.flags.includes('myself'));
        if (!pNode.flags.includes('master')) throw new Error(`node 0 is not a primary: ${pNode.flags}`);
        const rNode = view.find((n) => n.master === pNode.id);
        const rIndex = c.addresses.indexOf(rNode.addr);
        const P = c.nodes[0], R = c.nodes[rIndex], pClient = c.clients[0], rClient = c.clients[rIndex];
        const other = c.clients.find((_, i) => i !== 0 && i !== rIndex && view.find((n) => n.addr === c.addresses[i]).flags.includes('master'));
        // a hash tag in P's first slot range
        const [lo, hi] = pNode.slots[0];
        let tag = null;
        for (let i = 0; tag === null; i++) {
            const s = Number(await pClient.call('CLUSTER', 'KEYSLOT', `p${i}`));
            if (s >= lo && s <= hi) tag = `p${i}`;
        }

        const base = { cluster: { nodes: c.addresses }, command_timeout: '2s' };
        const withAck = await startKvedge(kvConfig({ ...base, min_replicas_ack: 1, min_replicas_ack_timeout: '200ms' }, {}, { threads: 2 }));
        kvedges.push(withAck);
        const control = await startKvedge(kvConfig(base, {}, { threads: 2 }));
        kvedges.push(control);
        for (const k of kvedges)
            await waitFor(async () => (await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` },
                body: JSON.stringify(['SET', `{${tag}}:warm`, '1']) })).status === 200, { timeoutMs: 10_000, message: 'kvedge writes on the cluster' });

        running = [writers(withAck, tag, 'ack', state), writers(control, tag, 'control', state)];
        await sleep(1000);
        const cutAt = Date.now();
        cut(P.port, c.busPorts[0]);
        // the failover: R promoted (its own view), and another primary flags P as failed
        await waitFor(async () => (await role(rClient)) === 'master', { timeoutMs: 30_000, intervalMs: 50, message: 'the cluster promotes P\'s replica' });
        const promotedAt = Date.now(), failoverMs = promotedAt - cutAt;
        const pFlags = (await clusterNodes(other)).find((n) => n.id === pNode.id).flags;
        await sleep(AFTER_FAILOVER_MS);
        state.writing = false;
        await Promise.all(running.map((w) => w.done));
        const stoppedAt = Date.now();
        const pWhilePartitioned = await pClient.call('CLUSTER', 'INFO');

        heal();
        const healedAt = Date.now();
        // P rejoins as R's replica and takes R's data (its own writes discarded)
        await waitFor(async () => {
            const info = await pClient.info('replication');
            return /^role:slave/m.test(info) && new RegExp(`^master_port:${R.port}\\b`, 'm').test(info) &&
                /^master_link_status:up/m.test(info) && /^master_sync_in_progress:0/m.test(info);
        }, { timeoutMs: 30_000, intervalMs: 50, message: 'P rejoins as a replica of the new primary' });
        const rejoinMs = Date.now() - healedAt;
        // with P as R's replica, the min_replicas_ack kvedge's writes in those slots are acknowledged again
        const again = Date.now();
        await waitFor(async () => (await http('POST', `${withAck.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` },
            body: JSON.stringify(['SET', `{${tag}}:after`, '1']) })).status === 200, { timeoutMs: 20_000, intervalMs: 100,
            message: 'writes acknowledged again once P is R\'s replica' });
        const ackAgainMs = Date.now() - again;

        const report = [];
        for (const w of running) {
            const keys = w.acked.map((a) => a.key);
            let lost = 0;
            const lostKeys = [];
            for (let i = 0; i < keys.length; i += 500) {
                const part = keys.slice(i, i + 500);
                const values = await rClient.mget(...part);
                values.forEach((v, j) => {
                    if (v === null) {
                        lost++;
                        if (lostKeys.length < 5) lostKeys.push(part[j]);
                    }
                });
            }
            report.push({
                name: w.name,
                acked: keys.length,
                beforeCut: w.acked.filter((a) => a.sentAt < cutAt).length,
                duringPartition: w.acked.filter((a) => a.sentAt >= cutAt).length,
                afterPromotion: w.acked.filter((a) => a.sentAt >= promotedAt).length,
                lastAckAfterCutMs: Math.max(-1, ...w.acked.filter((a) => a.sentAt >= cutAt && a.sentAt < promotedAt).map((a) => a.sentAt - cutAt)),
                lost,
                lostKeys,
                statuses: w.statuses,
            });
        }
        const exits = [];
        for (const k of kvedges.splice(0)) {
            const r = await k.stop();
            exits.push({ code: r.code, signal: r.signal, stderr: r.stderr.slice(-4000) });
        }
        return {
            tag, failoverMs, afterFailoverMs: AFTER_FAILOVER_MS, writingMs: stoppedAt - cutAt, rejoinMs, ackAgainMs, pFlags,
            pStateWhilePartitioned: /cluster_state:(\w+)/.exec(pWhilePartitioned)?.[1],
            withAck: { ...report[0], exit: exits[0] }, control: { ...report[1], exit: exits[1] },
        };
    } finally {
        state.writing = false;
        await Promise.all(running.map((w) => w.done.catch(() => {})));
        try {
            heal();
        } catch {
            // no filter left
        }
        for (const k of kvedges) if (k.running) await k.stop();
        await c.stop();
    }
}

console.log(`RESULT ${JSON.stringify(await scenario())}`);
