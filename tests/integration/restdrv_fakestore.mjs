// A KV REST store in the test (issue 9): a node HTTP server that speaks enough of the protocol (/pipeline,
// /multi-exec, base64 replies, upstash-sync-token) over an in-memory map, records every request with the connection
// it came on, and can be told to misbehave on the next request that matches (close or reset the connection without
// answering). kvedge A's KV API is put in front of it with startEdge.
import { startUpstream } from './harness.mjs';

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');

/**
 * Starts the store. Returns {up (startUpstream's handle), url (the API base "<origin>/kv"), data (Map), log (one entry
 * per request: {cmds, reused, conn, path, token}), trap(pred, action, times = 1), stop()}. trap: the next `times`
 * requests for which pred(cmds, entry) is true get `action` ('close': the socket is destroyed without an answer,
 * 'reset': a TCP RST) instead of an answer. `syncToken` (a function of the request number or null) sets the
 * upstash-sync-token of each answer.
 */
export async function startFakeStore({ syncToken = null } = {}) {
    const data = new Map();
    const log = [];
    const served = new WeakMap();
    let conns = 0;
    let trapped = null;
    const exec = (c) => {
        const [name, ...args] = c.map(String);
        switch (name.toUpperCase()) {
            case 'PING':
                return { result: b64('PONG') };
            case 'GET':
                return { result: data.has(args[0]) ? b64(data.get(args[0])) : null };
            case 'SET':
                data.set(args[0], args[1]);
                return { result: 'OK' };
            case 'INCR': {
                const v = Number(data.get(args[0]) ?? 0) + 1;
                data.set(args[0], String(v));
                return { result: v };
            }
            default:
                return { error: `ERR unknown command '${name}'` };
        }
    };
    const up = await startUpstream((req, res, body) => {
        const sock = req.socket;
        const reused = served.has(sock);
        if (!reused) served.set(sock, ++conns);
        let cmds;
        try {
            cmds = JSON.parse(body);
        } catch {
            cmds = null;
        }
        const entry = { cmds, reused, conn: served.get(sock), path: req.url, token: req.headers['upstash-sync-token'] ?? '' };
        log.push(entry);
        if (trapped && Array.isArray(cmds) && trapped.pred(cmds, entry)) {
            entry.trapped = trapped.action;
            if (--trapped.times === 0) trapped = null;
            if (entry.trapped === 'reset') sock.resetAndDestroy();
            else sock.destroy();
            return;
        }
        const headers = { 'content-type': 'application/json' };
        const token = syncToken ? syncToken(log.length, cmds) : null;
        if (token != null) headers['upstash-sync-token'] = String(token);
        res.writeHead(200, headers);
        res.end(JSON.stringify(cmds.map(exec)));
    });
    return {
        up,
        url: `${up.url}/kv`,
        data,
        log,
        trap(pred, action = 'close', times = 1) {
            trapped = { pred, action, times };
        },
        commands: (name) => log.filter((e) => Array.isArray(e.cmds) && e.cmds.some((c) => c[0] === name)),
        stop: () => up.stop(),
    };
}
