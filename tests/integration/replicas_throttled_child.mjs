// Issue 12 (scale-out), the replicas topology with a slow replication link: run by scale_replicas.test.mjs inside a
// network namespace of its own (`unshare -n`), where everything is on loopback. The primary binds 127.0.0.1 (kvedge's
// links) and 127.0.0.2 (the replicas' links): tc (htb + tbf, a u32 filter on source 127.0.0.2) throttles what the
// primary sends its replicas, nothing else. Prints one line `RESULT {json}` for the parent.
import { execFileSync } from 'node:child_process';
import { startKvedge } from './harness.mjs';
import { kvConfig } from './kv_helpers.mjs';
import { diff, nodeMetrics, writeReadPairs } from './replicas_helpers.mjs';
import { startReplicas } from './topology.mjs';

const RATE = process.env.KVEDGE_THROTTLE_RATE ?? '2mbit';

function run(cmd, ...args) {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// the namespace is new: its loopback is down and nothing else exists; the addresses used must be on it
run('ip', 'link', 'set', 'lo', 'up');
for (const addr of ['127.0.0.1', '127.0.0.2']) {
    const route = run('ip', 'route', 'get', addr);
    if (!/\bdev lo\b/.test(route)) throw new Error(`${addr} is not on this namespace's loopback: ${route}`);
}
run('tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10');
run('tc', 'class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
run('tc', 'class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', RATE, 'ceil', RATE);
run('tc', 'qdisc', 'add', 'dev', 'lo', 'parent', '1:20', 'handle', '20:', 'tbf', 'rate', RATE, 'burst', '64kb', 'limit', '8mb');
run('tc', 'filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'src', '127.0.0.2/32', 'flowid', '1:20');

const t = await startReplicas({ replicas: 2, primaryArgs: ['--bind', '127.0.0.1', '127.0.0.2'], primaryHost: '127.0.0.2' });
let k;
try {
    k = await startKvedge(kvConfig({ url: t.url, replicas: t.replicaUrls, command_timeout: '5s' }, {}, { threads: 2 }));
    const before = await nodeMetrics(k);
    const res = await writeReadPairs(k, { clients: 16, pairs: 625, prefix: 'slow', pad: 200 });
    const d = diff(await nodeMetrics(k), before);
    const lag = await Promise.all(t.clients.replicas.map(async (c) => {
        const info = await c.info('replication');
        return Number(/master_repl_offset:(\d+)/.exec(await t.clients.primary.info('replication'))[1]) -
            Number(/slave_repl_offset:(\d+)/.exec(info)[1]);
    }));
    const throttled = run('tc', '-s', 'class', 'show', 'dev', 'lo', 'classid', '1:20');
    const sent = Number(/Sent (\d+) bytes/.exec(throttled)?.[1] ?? 0);
    const stop = await k.stop();
    console.log(`RESULT ${JSON.stringify({ ...res, ...d, lag, throttledBytes: sent, exit: { code: stop.code, signal: stop.signal, timedOut: stop.timedOut, stderr: stop.stderr.slice(-4000) } })}`);
} finally {
    if (k?.running) await k.stop();
    await t.stop();
}
