// Issue 12 (scale-out): real Redis topologies on loopback for the tests. startReplicas() starts a primary and N
// replicas (redis-server --replicaof) on free 127.0.0.1 ports, each in its own temp dir, and waits until every
// replica's INFO replication says master_link_status:up; startSentinels() adds sentinels watching them. Every server
// is stopped by its PID (the harness' handles; the sentinels' own handles). startCluster() starts a Redis Cluster
// (3 primaries, 3 replicas by default) with redis-cli --cluster create.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { freePort, HOST, makeTempDir, SOURCE_DIR, startRedis, waitFor } from './harness.mjs';

const require = createRequire(import.meta.url);

/**
 * Options every server gets: a full sync starts at once (diskless, Redis 7's default, with no delay). Not
 * repl-diskless-load swapdb: with it, Redis 7.0.15 here left the second of two replicas `connected` (ROLE and INFO)
 * and `online` on the primary while it received no writes at all.
 */
export const REPLICA_ARGS = ['--repl-diskless-sync-delay', '0'];

/** INFO replication of an ioredis client as an object of its fields. */
export async function replicationInfo(client) {
    const out = {};
    for (const line of (await client.info('replication')).split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
}

/** The calls of `cmd` (lower case, e.g. 'get') in INFO commandstats of an ioredis client. */
export async function commandCalls(client, cmd) {
    const m = new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(await client.info('commandstats'));
    return m ? Number(m[1]) : 0;
}

/** Waits until the replica behind `client` says its link to the primary is up (and not syncing). */
export function waitLinked(client, { timeoutMs = 20_000 } = {}) {
    return waitFor(async () => {
        const info = await replicationInfo(client);
        return info.role === 'slave' && info.master_link_status === 'up' && info.master_sync_in_progress === '0';
    }, { timeoutMs, message: 'replica linked to its primary (master_link_status:up)' });
}

/**
 * Waits until the primary behind `client` lists `n` replicas, all `state=online` (after a full sync the primary starts
 * the command stream only once the replica acknowledged it: until then the replica says it is linked but gets no
 * writes).
 */
export function waitOnline(client, n, { timeoutMs = 20_000 } = {}) {
    return waitFor(async () => {
        const info = await replicationInfo(client);
        const states = Object.keys(info).filter((k) => /^slave\d+$/.test(k)).map((k) => /state=([a-z_]+)/.exec(info[k])?.[1]);
        return states.length === n && states.every((s) => s === 'online');
    }, { timeoutMs, message: `the primary streams to ${n} replicas (state=online)` });
}

/**
 * Waits until every replica has applied what the primary has written so far: a PUBLISH (replicated, no key) moves
 * the primary's offset, then each replica's slave_repl_offset must reach it.
 */
export async function waitCaughtUp(clients, { timeoutMs = 20_000 } = {}) {
    await clients.primary.publish('kvedge-test:caught-up', '1');
    const target = Number((await replicationInfo(clients.primary)).master_repl_offset);
    await waitFor(async () => {
        const offsets = await Promise.all(clients.replicas.map(async (c) => Number((await replicationInfo(c)).slave_repl_offset)));
        return offsets.every((o) => o >= target);
    }, { timeoutMs, message: `every replica at the primary's offset ${target}` });
}

/**
 * A primary and `replicas` replicas. opts: {replicas (default 2), args (extra redis args for every server),
 * primaryArgs, replicaArgs (extra for the primary, the replicas), primaryHost (where the replicas reach the primary,
 * default 127.0.0.1: another loopback address the primary binds too gives the replication stream an address of its
 * own, e.g. for tc)}.
 * Returns {primary, replicas: [handle...], url (the primary's), replicaUrls, clients: {primary, replicas: [...]},
 * relink(i) (after a replica restarted: wait until it is linked again), stop()}.
 */
export async function startReplicas(opts = {}) {
    const n = opts.replicas ?? 2;
    const primary = await startRedis({ args: [...(opts.args ?? []), ...REPLICA_ARGS, ...(opts.primaryArgs ?? [])] });
    const replicas = [];
    const stop = async () => {
        for (const r of replicas) await r.stop().catch(() => {});
        await primary.stop();
    };
    try {
        for (let i = 0; i < n; i++)
            replicas.push(await startRedis({
                args: [...(opts.args ?? []), ...REPLICA_ARGS, ...(opts.replicaArgs ?? []), '--replicaof', opts.primaryHost ?? HOST, String(primary.port)],
            }));
        const clients = { primary: primary.client(), replicas: replicas.map((r) => r.client()) };
        for (const c of clients.replicas) await waitLinked(c);
        await waitOnline(clients.primary, n);
        await waitCaughtUp(clients);
        return {
            primary,
            replicas,
            clients,
            url: primary.url,
            replicaUrls: replicas.map((r) => r.url),
            relink: async (i) => {
                await waitLinked(clients.replicas[i]);
                await waitOnline(clients.primary, n);
                await waitCaughtUp(clients);
            },
            stop,
        };
    } catch (e) {
        await stop();
        throw e;
    }
}

/**
 * A sentinel (redis-server <conf> --sentinel) on a free 127.0.0.1 port watching `master` at 127.0.0.1:`port`, with
 * `down-after-milliseconds` downAfterMs and a small failover-timeout; stopped by its PID. Returns {port, pid, client(),
 * stop(), kill(signal)}.
 */
export async function startSentinel({ master = 'mymaster', primaryPort, quorum = 2, downAfterMs = 1000, failoverTimeoutMs = 2000 }) {
    for (let attempt = 0; ; attempt++) {
        const port = await freePort();
        const dir = makeTempDir('kvedge-sentinel-');
        const conf = path.join(dir, 'sentinel.conf');
        fs.writeFileSync(conf, [
            `port ${port}`, `bind ${HOST}`, `dir ${dir}`, 'daemonize no', `sentinel announce-ip ${HOST}`,
            `sentinel monitor ${master} ${HOST} ${primaryPort} ${quorum}`,
            `sentinel down-after-milliseconds ${master} ${downAfterMs}`,
            `sentinel failover-timeout ${master} ${failoverTimeoutMs}`,
            `sentinel parallel-syncs ${master} 2`, '',
        ].join('\n'));
        const child = spawn('redis-server', [conf, '--sentinel'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { out += d; });
        const exited = new Promise((resolve) => child.on('exit', resolve));
        let dead = false;
        exited.then(() => { dead = true; });
        const clients = new Set();
        const handle = {
            port,
            pid: child.pid,
            output: () => out,
            client() {
                const Redis = require('ioredis');
                const c = new Redis({ host: HOST, port, maxRetriesPerRequest: 2 });
                c.on('error', () => {});
                clients.add(c);
                return c;
            },
            async kill(signal = 'SIGKILL') {
                if (!dead) process.kill(child.pid, signal);
                await exited;
            },
            async stop() {
                for (const c of clients) c.disconnect();
                if (!dead) process.kill(child.pid, 'SIGTERM');
                await exited;
            },
        };
        try {
            await waitFor(async () => !dead && /monitor master/.test(out), { timeoutMs: 10_000, message: `sentinel on ${port} monitoring` });
            return handle;
        } catch (e) {
            await handle.stop();
            if (attempt < 3 && /Address already in use/i.test(out)) continue;
            throw new Error(`${e.message}\n${out}`);
        }
    }
}

/**
 * A primary, `replicas` replicas (startReplicas) and `sentinels` sentinels watching them as `master`; ready when every
 * sentinel sees the replicas and the other sentinels. Returns startReplicas' object plus {master, sentinels: [handle],
 * sentinelAddresses: ['127.0.0.1:port', ...], downAfterMs, stop()}.
 */
export async function startSentinels(opts = {}) {
    const master = opts.master ?? 'mymaster';
    const downAfterMs = opts.downAfterMs ?? 1000;
    const t = await startReplicas({ replicas: opts.replicas ?? 2 });
    const sentinels = [];
    const stopAll = async () => {
        for (const s of sentinels) await s.stop().catch(() => {});
        await t.stop();
    };
    try {
        for (let i = 0; i < (opts.sentinels ?? 3); i++)
            sentinels.push(await startSentinel({ master, primaryPort: t.primary.port, downAfterMs }));
        const n = sentinels.length, r = opts.replicas ?? 2;
        await waitFor(async () => {
            for (const s of sentinels) {
                const c = s.client();
                try {
                    const reps = await c.call('SENTINEL', 'replicas', master);
                    const others = await c.call('SENTINEL', 'sentinels', master);
                    if (reps.length !== r || others.length !== n - 1) return false;
                } finally {
                    c.disconnect();
                }
            }
            return true;
        }, { timeoutMs: 30_000, intervalMs: 200, message: `${n} sentinels see ${r} replicas and each other` });
        return { ...t, master, sentinels, downAfterMs, sentinelAddresses: sentinels.map((s) => `${HOST}:${s.port}`), stop: stopAll };
    } catch (e) {
        await stopAll();
        throw e;
    }
}

/** CLUSTER INFO (or INFO <section>) text of an ioredis client as an object of its fields. */
function fields(text) {
    const out = {};
    for (const line of text.split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
}

/** Runs redis-cli with `args`; resolves with its output, rejects with it when it exits non-zero. */
function redisCli(args, { timeoutMs = 60_000 } = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { out += d; });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('exit', (code, signal) => {
            clearTimeout(timer);
            if (code === 0) resolve(out);
            else reject(new Error(`redis-cli ${args.join(' ')}: exit ${code ?? signal}\n${out}`));
        });
    });
}

/**
 * A Redis Cluster of `primaries` primaries with `replicasPerPrimary` replicas each (default 3 and 1), every node a
 * redis-server (`cluster-enabled yes`, its own temp dir and nodes.conf, its cluster bus on a free port of its own via
 * `cluster-port`) on 127.0.0.1, joined by `redis-cli --cluster create ... --cluster-replicas N --cluster-yes`. Ready
 * when every node says `cluster_state:ok`, knows every other node and every slot is assigned, and every replica is
 * linked to its primary. opts: {primaries, replicasPerPrimary, nodeTimeoutMs (cluster-node-timeout, default 2000),
 * args (extra redis args for every node), nodeArgs(i) (extra redis args for node i only, e.g. a bind-source-addr of its
 * own), tls: {certs (makeCerts() of httpclient_helpers.mjs), leaf (optional: the server certificate of every node,
 * default one leaf for localhost and 127.0.0.1 signed by certs.ca)}}.
 * With `tls` every node also listens with TLS on a free `--tls-port` of its own (`--tls-auth-clients no`, the CA
 * certs.ca.cert) and speaks TLS on the cluster bus (`--tls-cluster yes`) and for replication (`--tls-replication yes`);
 * the plain ports stay (the harness' PING, node handles' ioredis clients). Redis then announces the TLS ports in the
 * cluster (CLUSTER SLOTS/SHARDS/NODES, -MOVED) to TLS clients and the plain ports to plain ones.
 * Returns {nodes: [handle...] (as created: redis-cli makes the first `primaries` the primaries), addresses
 * ['127.0.0.1:port', ...], busPorts (each node's cluster-port), primaries(), replicas() (the handles by their current
 * role), client(i), nodeTimeoutMs, stop()} (every node stopped by its PID); with `tls` also tlsPorts (each node's TLS
 * port, in the order of nodes), tlsAddresses ['127.0.0.1:tlsport', ...] and tlsLeaf (the nodes' certificate).
 */
export async function startCluster(opts = {}) {
    const p = opts.primaries ?? 3, r = opts.replicasPerPrimary ?? 1;
    const nodeTimeoutMs = opts.nodeTimeoutMs ?? 2000;
    const nodes = [], busPorts = [], tlsPorts = [];
    const tls = opts.tls ? { ...opts.tls, leaf: opts.tls.leaf ?? opts.tls.certs.leaf({ dns: ['localhost'], ip: [HOST] }) } : null;
    const stop = async () => {
        for (const n of nodes) await n.stop().catch(() => {});
    };
    try {
        for (let i = 0; i < p * (r + 1); i++) {
            const busPort = await freePort();
            busPorts.push(busPort);
            const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort),
                '--cluster-node-timeout', String(nodeTimeoutMs), ...REPLICA_ARGS, ...(opts.args ?? []), ...(opts.nodeArgs?.(i) ?? [])];
            if (!tls) {
                nodes.push(await startRedis({ args }));
                continue;
            }
            // startRedis retries a taken plain port itself; a taken TLS port (also "Address already in use") gets a new one here
            for (let attempt = 0; ; attempt++) {
                const tlsPort = await freePort();
                try {
                    nodes.push(await startRedis({
                        args: [...args, '--tls-port', String(tlsPort), '--tls-cert-file', tls.leaf.cert, '--tls-key-file', tls.leaf.key,
                            '--tls-ca-cert-file', tls.certs.ca.cert, '--tls-auth-clients', 'no', '--tls-cluster', 'yes', '--tls-replication', 'yes'],
                    }));
                    tlsPorts.push(tlsPort);
                    break;
                } catch (e) {
                    if (!e.addressInUse || attempt >= 4) throw e;
                }
            }
        }
        const addresses = nodes.map((n) => `${HOST}:${n.port}`);
        await redisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', String(r), '--cluster-yes']);
        const clients = nodes.map((n) => n.client());
        await waitFor(async () => {
            for (const c of clients) {
                const info = fields(await c.call('CLUSTER', 'INFO'));
                if (info.cluster_state !== 'ok' || Number(info.cluster_known_nodes) !== nodes.length ||
                    Number(info.cluster_slots_assigned) !== 16384)
                    return false;
            }
            // every node's view: p primaries serving slots, p * r replicas, no node failing or in a handshake (redis-cli
            // returns once the slots agree; a replica's CLUSTER REPLICATE may not have reached every node's view yet)
            for (const c of clients) {
                const lines = (await c.call('CLUSTER', 'NODES')).trim().split('\n').map((l) => l.split(' '));
                if (lines.some((f) => /fail|handshake|noaddr/.test(f[2]))) return false;
                const masters = lines.filter((f) => f[2].includes('master') && f.length > 8).length;
                const slaves = lines.filter((f) => f[2].includes('slave') && f[3] !== '-').length;
                if (masters !== p || slaves !== p * r) return false;
            }
            let linked = 0;
            for (const c of clients) {
                const rep = fields(await c.info('replication'));
                if (rep.role === 'slave' && (rep.master_link_status !== 'up' || rep.master_sync_in_progress !== '0')) return false;
                if (rep.role === 'slave') linked++;
            }
            return linked === p * r;
        }, { timeoutMs: 30_000, intervalMs: 100, message: `cluster of ${nodes.length} nodes: cluster_state:ok on every node, replicas linked` });
        const byRole = async (role) => {
            const out = [];
            for (let i = 0; i < nodes.length; i++)
                if (fields(await clients[i].info('replication')).role === role) out.push(nodes[i]);
            return out;
        };
        return {
            nodes,
            addresses,
            busPorts,
            clients,
            nodeTimeoutMs,
            primaries: () => byRole('master'),
            replicas: () => byRole('slave'),
            stop,
            ...(tls ? { tlsPorts, tlsAddresses: tlsPorts.map((t) => `${HOST}:${t}`), tlsLeaf: tls.leaf } : {}),
        };
    } catch (e) {
        await stop();
        throw e;
    }
}

/**
 * Runs tests/integration/<childFile> with node in a network namespace of its own (`unshare -n`: only the child's own
 * loopback, where it may shape traffic with tc) and returns the JSON of its `RESULT <json>` line. Where this machine
 * cannot make a namespace with tc, skips test `t` with the reason (the issue asks for a clear skip there) and returns
 * null. Fails the test when the child reports nothing.
 */
export function runInNetns(t, childFile, { timeoutMs = 110_000 } = {}) {
    const probe = spawnSync('unshare', ['-n', '--', 'sh', '-c', 'ip link set lo up && tc qdisc add dev lo root handle 1: htb default 10'], { encoding: 'utf8' });
    if (probe.status !== 0) {
        t.skip(`cannot make a network namespace with tc here (unshare -n, tc htb): ${(probe.stderr || probe.error?.message || '').trim()}`);
        return null;
    }
    const child = spawnSync('unshare', ['-n', '--', process.execPath, path.join(SOURCE_DIR, 'tests/integration', childFile)], {
        encoding: 'utf8',
        env: process.env,
        timeout: timeoutMs,
        maxBuffer: 16 << 20,
    });
    const line = /^RESULT (.*)$/m.exec(child.stdout ?? '')?.[1];
    if (!line)
        throw new Error(`${childFile} reported no RESULT (status ${child.status}, signal ${child.signal})\n${child.stdout}\n${child.stderr}`);
    return JSON.parse(line);
}
