// Issue 12 (scale-out): real Redis topologies on loopback for the tests. startReplicas() starts a primary and N
// replicas (redis-server --replicaof) on free 127.0.0.1 ports, each in its own temp dir, and waits until every
// replica's INFO replication says master_link_status:up. Every server is stopped by its PID (the harness' handles).
import { HOST, startRedis, waitFor } from './harness.mjs';

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
