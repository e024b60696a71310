#!/usr/bin/env node
// The cache-tests conformance run on a Redis Cluster (issue 12): starts a cluster of 3 primaries and 3 replicas on
// loopback (tests/integration/topology.mjs startCluster(), every node stopped by its PID afterwards), then runs
// run.mjs with kvedge-cache-cluster.yaml and the arguments given here, the nodes in CACHE_TESTS_CLUSTER_1..3. Exits
// with run.mjs' status (2 when the cluster could not be started).
//
//   node tests/cache-conformance/cluster.mjs --known-failures tests/cache-conformance/known-failures.txt
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../integration/topology.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

let cluster;
try {
    cluster = await startCluster();
} catch (e) {
    console.error(`cluster.mjs: could not start the Redis Cluster: ${e.message}`);
    process.exit(2);
}
let status = 2;
try {
    const env = { ...process.env };
    cluster.addresses.slice(0, 3).forEach((a, i) => (env[`CACHE_TESTS_CLUSTER_${i + 1}`] = a));
    const child = spawn(process.execPath, [path.join(HERE, 'run.mjs'), '--config', path.join(HERE, 'kvedge-cache-cluster.yaml'),
        ...process.argv.slice(2)], { env, stdio: 'inherit' });
    status = await new Promise((resolve) => {
        child.once('error', () => resolve(2));
        child.once('exit', (code, signal) => resolve(code ?? (signal ? 2 : 0)));
    });
} finally {
    await cluster.stop();
}
process.exit(status);
