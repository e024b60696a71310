// A fake Redis for tests of what kvedge does with replies a real one would not send (or not send yet).
import assert from 'node:assert/strict';
import net from 'node:net';

// One RESP command (an array of bulk strings) from the front of `buf`: {argv, used}, or null if incomplete.
export function parseCommand(buf) {
    let pos = 0;
    const line = () => {
        const end = buf.indexOf('\r\n', pos);
        if (end < 0) return null;
        const text = buf.toString('latin1', pos, end);
        pos = end + 2;
        return text;
    };
    const head = line();
    if (head === null) return null;
    assert.equal(head[0], '*', `kvedge sends RESP arrays (got ${JSON.stringify(head)})`);
    const argv = [];
    for (let i = 0, n = Number(head.slice(1)); i < n; i++) {
        const len = line();
        if (len === null || buf.length < pos + Number(len.slice(1)) + 2) return null;
        argv.push(buf.toString('latin1', pos, pos + Number(len.slice(1))));
        pos += Number(len.slice(1)) + 2;
    }
    return { argv, used: pos };
}

function isAclCheck(argv) {
    return argv[0].toUpperCase() === 'EVAL_RO' && argv[1].includes('redis.acl_check_cmd');
}

/** kvedge's check of an external Redis' output buffer limit when its link first comes up */
function isOutputLimitCheck(argv) {
    return argv[0].toUpperCase() === 'CONFIG' && argv[1]?.toUpperCase() === 'GET' && argv[2] === 'client-output-buffer-limit';
}

const OUTPUT_LIMIT = 'normal 268435456 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60';

/**
 * A fake Redis on 127.0.0.1 that answers PING (kvedge's handshake: no AUTH or SELECT without a password or
 * database) with +PONG, kvedge's ACL check at connect (EVAL_RO of a script with redis.acl_check_cmd) with an
 * empty array (nothing refused is allowed), its output buffer limit check (CONFIG GET client-output-buffer-limit)
 * with a bounded limit, and every other command with answer(argv) (bytes as a latin1 string; null: no
 * answer). Records every command as {conn, argv}. Returns {url, commands, connections(), stop()}.
 */
export async function startFakeRedis(answer) {
    const commands = [];
    const socks = new Set();
    let connections = 0;
    const server = net.createServer((sock) => {
        const conn = ++connections;
        let buf = Buffer.alloc(0);
        socks.add(sock);
        sock.on('close', () => socks.delete(sock));
        sock.on('error', () => {});
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            for (let cmd; (cmd = parseCommand(buf)) !== null; ) {
                buf = buf.subarray(cmd.used);
                commands.push({ conn, argv: cmd.argv });
                const out = cmd.argv[0].toUpperCase() === 'PING' ? '+PONG\r\n'
                    : isAclCheck(cmd.argv) ? '*0\r\n'
                    : isOutputLimitCheck(cmd.argv) ? `*2\r\n$26\r\nclient-output-buffer-limit\r\n$${OUTPUT_LIMIT.length}\r\n${OUTPUT_LIMIT}\r\n`
                    : answer(cmd.argv);
                if (out !== null) sock.write(Buffer.from(out, 'latin1'));
            }
        });
    });
    await new Promise((ok) => server.listen({ host: '127.0.0.1', port: 0 }, ok));
    return {
        url: `redis://127.0.0.1:${server.address().port}`,
        commands,
        connections: () => connections,
        stop() {
            for (const s of socks) s.destroy();
            return new Promise((ok) => server.close(ok));
        },
    };
}
