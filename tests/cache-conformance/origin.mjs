// The cache-tests suite's origin server (http-cache-tests, server/*.mjs) on 127.0.0.1 only.
//
// The suite's own server/server.mjs listens on every interface (`server.listen(port)`); this file builds the
// same server from the suite's own request handlers (handle-config, handle-test, handle-state) with the same
// dispatch on the first path segment, but binds 127.0.0.1. Every other path gets 404 (the suite's server
// serves its browser pages from the current directory there; the CLI client never asks for them).
//
// Run by run.mjs with child_process.fork(): it listens on the port given as argv[2] (0 = any free port),
// reports {port} over the IPC channel, and exits when that channel closes (the runner is gone) or on
// SIGTERM. The handlers log to stdout ("SERVER WARNING ..."); the runner sends that to a file.
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const suiteDir = path.dirname(require.resolve('http-cache-tests/package.json'));
const load = async (rel) => (await import(pathToFileURL(path.join(suiteDir, rel)).href)).default;

const handleConfig = await load('server/handle-config.mjs');
const handleTest = await load('server/handle-test.mjs');
const handleState = await load('server/handle-state.mjs');

const HOST = '127.0.0.1';
const requestedPort = Number(process.argv[2] ?? 0);
let baseUrl = `http://${HOST}:${requestedPort}/`;

// server/server.mjs handleMain, minus handleFile
function handleMain(request, response) {
    const url = new URL(request.url, baseUrl);
    const pathSegs = url.pathname.split('/');
    pathSegs.shift();
    const dispatch = pathSegs.shift();
    if (dispatch === 'config') {
        handleConfig(pathSegs, request, response);
    } else if (dispatch === 'test') {
        handleTest(pathSegs, request, response);
    } else if (dispatch === 'state') {
        handleState(pathSegs, request, response);
    } else {
        response.writeHead(404, { 'Content-Type': 'text/plain' });
        response.end('not a cache-tests path\n');
    }
}

const server = http.createServer(handleMain);
server.on('error', (err) => {
    if (process.send) process.send({ error: err.message });
    else console.error(`origin: ${err.message}`);
    process.exit(1);
});
server.listen({ host: HOST, port: requestedPort }, () => {
    const { port } = server.address();
    baseUrl = `http://${HOST}:${port}/`;
    console.log(`origin: listening on ${baseUrl} (http-cache-tests ${require('http-cache-tests/package.json').version})`);
    if (process.send) process.send({ port });
});

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
