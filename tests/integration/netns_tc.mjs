// Inside a network namespace of a test's own (topology.mjs runInNetns: `unshare -n`), the tools its children use to
// cut traffic on loopback: netnsLoopback() brings lo up and checks that every address the child uses is on it (no
// packet may leave the namespace), and installs an htb root whose class 1:20 is 8 bit/s behind a tbf that holds one
// packet (in effect nothing passes: these kernels have no netem, and tc's drop action cannot be loaded here); hold()
// sends the packets of u32 matches there, release() lets everything pass again.
import { execFileSync } from 'node:child_process';

export function run(cmd, ...args) {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Brings lo up, checks each of `addresses` is on it, and installs the holding class. */
export function netnsLoopback(addresses) {
    run('ip', 'link', 'set', 'lo', 'up');
    for (const addr of addresses) {
        const route = run('ip', 'route', 'get', addr);
        if (!/\bdev lo\b/.test(route)) throw new Error(`${addr} is not on this namespace's loopback: ${route}`);
    }
    run('tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '100000');
    run('tc', 'class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
    run('tc', 'class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '8bit', 'ceil', '8bit');
    run('tc', 'qdisc', 'add', 'dev', 'lo', 'parent', '1:20', 'handle', '20:', 'tbf', 'rate', '8bit', 'burst', '1600', 'limit', '1');
}

/** Holds every packet that one of `matches` (each the words after a u32 `match`, more `match`es inside) names. */
export function hold(matches) {
    for (const [i, m] of matches.entries())
        run('tc', 'filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', String(i + 1), 'u32', 'match', ...m, 'flowid', '1:20');
}

/** Lets everything pass again. */
export function release() {
    run('tc', 'filter', 'del', 'dev', 'lo', 'parent', '1:');
}
