// Issue 10 S16, the libjwt floor at start-up (handlers/jwt_floor.h): kvedge refuses to run, and to pass a
// configuration, on a libjwt without the fix of CVE-2024-25189. The older library is simulated with a copy of the
// installed libjwt.so.0 whose exported `jwt_strcmp` (the symbol only the fixed builds have) is renamed to a name of
// the same GNU hash (so the copy still loads and binds its own reference to it), found first through
// LD_LIBRARY_PATH. With the real library kvedge runs. The CI side (dpkg-query) is ctest lint.libjwt_floor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, runKvedge, writeConfig } from './harness.mjs';

const gnuHash = (s) => [...Buffer.from(s)].reduce((h, c) => (Math.imul(h, 33) + c) >>> 0, 5381);

/** A copy of the libjwt.so.0 kvedge loads, with jwt_strcmp renamed (same length, same GNU hash); its directory. */
function olderLibjwt() {
    const ldd = execFileSync('ldd', [process.env.KVEDGE_BIN], { encoding: 'utf8' });
    const lib = /^\s*libjwt\.so\.0 => (\S+)/m.exec(ldd)?.[1];
    assert.ok(lib, `kvedge loads libjwt.so.0:\n${ldd}`);
    const bytes = fs.readFileSync(fs.realpathSync(lib));
    const from = 'jwt_strcmp', to = 'jwt_strcnO'; // 'm'+1 then 'p'-33: h*33 + c keeps the hash
    assert.equal(gnuHash(to), gnuHash(from));
    const at = bytes.indexOf(`${from}\0`);
    assert.ok(at >= 0 && bytes.indexOf(`${from}\0`, at + 1) < 0, 'the symbol name is in the library once');
    bytes.write(`${to}\0`, at, 'latin1');
    const dir = makeTempDir('kvedge-libjwt-');
    fs.writeFileSync(path.join(dir, 'libjwt.so.0'), bytes);
    return dir;
}

test('issue 10 S16: kvedge refuses to start (and -t refuses the configuration) with a libjwt without jwt_strcmp; runs with the installed one', async () => {
    const dir = makeTempDir();
    const config = writeConfig({ listen: [{ host: '127.0.0.1', port: 1 }], routes: [{ path: '/', upstream: 'http://127.0.0.1:1/' }] }, { dir });
    const older = { LD_LIBRARY_PATH: olderLibjwt() };
    const version = await runKvedge(['--version'], { env: older });
    assert.equal(version.code, 0, `the renamed copy loads: ${version.stderr}`);
    for (const args of [['-t', '-c', config], ['-c', config]]) {
        const r = await runKvedge(args, { env: older });
        assert.equal(r.code, 1, `kvedge ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /the libjwt loaded lacks the fix of CVE-2024-25189 \(no symbol jwt_strcmp\): install libjwt0 1\.10\.2-1\+deb12u1 or later/);
        assert.doesNotMatch(r.stdout, /is valid/);
    }
    const ok = await runKvedge(['-t', '-c', config]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /is valid/);
});
