import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { which } from '../common/which.js';
import type { ArtifactListResponse } from '../protocol/types.js';
import { archiveArtifacts, listArtifacts, readArtifact } from './artifacts.js';
import { encodeFsName } from './fs-name.js';
import { readFileTool, writeFileTool } from './file-tools.js';
import { ServerSlot } from './server-slot.js';

// What a hostile command can leave in its slot for the file tools and the reset.
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpcsb-hostile-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sh = (command: string): void => {
  const r = spawnSync('bash', ['-c', command], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command}: ${r.stderr}`);
};
const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms).unref())]);

describe('file tools against FIFOs, sockets and devices', () => {
  it('refuses FIFOs in read_file, write_file and artifacts/read at once, even eight at a time (more than the thread pool)', async () => {
    sh('for i in 0 1 2 3 4 5 6 7; do mkfifo fifo$i; done; echo hi > plain.txt');
    const calls = Array.from({ length: 8 }, (_, i) => [
      readFileTool(dir, { path: `fifo${i}` }, 1_000),
      writeFileTool(dir, { path: `fifo${i}`, content: 'x' }, 1_000),
      readArtifact(dir, { slot_id: 's', path: `fifo${i}` }, { maxArtifactBytes: 1_000, maxArtifactEntries: 10 }),
    ]).flat();
    const answers = await within(Promise.all(calls), 3_000, 'a file tool on a FIFO');
    for (const [i, answer] of answers.entries()) {
      if ('response' in answer) {
        expect(answer.status).toBe(400);
        expect(answer.response.error).toMatch(/^Not a regular file: fifo\d is (a FIFO|a FIFO or a socket)$/);
      } else {
        expect(answer, String(i)).toMatchObject({ status: 400, body: { error_code: 'not_a_file', error: expect.stringMatching(/^Not a regular file: fifo\d is a FIFO$/) } });
      }
    }
    // Other files (another slot's work shares the same thread pool) are still served.
    expect(await within(readFileTool(dir, { path: 'plain.txt' }, 1_000), 1_000, 'a plain read')).toMatchObject({ status: 200, response: { output: 'hi\n' } });
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a device node and a socket without opening them [root: mknod]', async () => {
    sh('mknod nulldev c 1 3 && python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind(\'sock\')" 2>/dev/null || true');
    const dev = await writeFileTool(dir, { path: 'nulldev', content: 'x' }, 1_000);
    expect(dev).toMatchObject({ status: 400, response: { error: 'Not a regular file: nulldev is a character device' } });
    expect(await readFileTool(dir, { path: 'nulldev' }, 1_000)).toMatchObject({ status: 400, response: { error: 'Not a regular file: nulldev is a character device' } });
  });

  it('clears setuid and setgid bits in archives', async () => {
    await writeFile(join(dir, 'tool'), '#!/bin/sh\n');
    await chmod(join(dir, 'tool'), 0o6755);
    const answer = await archiveArtifacts(dir, { slot_id: 's', path: '.' }, { maxArtifactBytes: 100_000, maxArtifactEntries: 10 });
    expect(answer.status).toBe(200);
    const tar = gunzipSync(Buffer.from((answer.body as { content: string }).content, 'base64'));
    expect(tar.subarray(0, 4).toString()).toBe('tool');
    expect(parseInt(tar.subarray(100, 108).toString().replace(/\0.*$/s, ''), 8)).toBe(0o755);
  });
});

describe('names that are not UTF-8', () => {
  const limits = { maxArtifactBytes: 100_000, maxArtifactEntries: 50 };

  it('lists them under their exact bytes (as the Python reference: surrogateescape, \\udcXX in JSON) instead of dropping them', async () => {
    sh(`printf latin1 > $'caf\\xe9.txt' && mkdir $'d\\xff' && printf inner > $'d\\xff/x' && printf ok > plain.txt`);
    const answer = await listArtifacts(dir, { slot_id: 's', path: '.', recursive: true }, limits);
    expect(answer.status).toBe(200);
    const paths = (answer.body as ArtifactListResponse).entries.map((e) => e.path);
    expect(paths).toEqual(['d\uDCFF', 'caf\uDCE9.txt', 'plain.txt', 'd\uDCFF/x']);
    expect(JSON.stringify(paths[1])).toBe('"caf\\udce9.txt"');
    expect(paths.map((p) => encodeFsName(p).toString('hex'))).toContain(Buffer.from('caf\xe9.txt', 'latin1').toString('hex'));
  });

  it('archives them so that tar extracts the same bytes and contents', async (ctx) => {
    if (!(await which('tar'))) ctx.skip('tar: not on PATH');
    const long = `${'n'.repeat(120)}\xff${'m'.repeat(20)}`; // past 100 bytes without a '/': a PAX path with hdrcharset=BINARY
    sh(`printf latin1 > $'caf\\xe9.txt' && mkdir $'d\\xff' && printf inner > $'d\\xff/x' && printf long > $'${long.replace('\xff', '\\xff')}' && ln -s $'caf\\xe9.txt' $'l\\xfe'`);
    const answer = await archiveArtifacts(dir, { slot_id: 's', path: '.' }, limits);
    expect(answer.status).toBe(200);
    const out = await mkdtemp(join(tmpdir(), 'hpcsb-untar-'));
    try {
      await writeFile(join(out, 'a.tar.gz'), Buffer.from((answer.body as { content: string }).content, 'base64'));
      sh(`cd ${out} && tar -xzf a.tar.gz && rm a.tar.gz`);
      const extracted = spawnSync('bash', ['-c', `cd ${out} && cat $'caf\\xe9.txt' $'d\\xff/x' $'${long.replace('\xff', '\\xff')}' $'l\\xfe' && readlink -n $'l\\xfe' | od -An -tx1`], { encoding: 'utf8' });
      expect(extracted.stderr).toBe('');
      expect(extracted.stdout.replace(/\s+/g, ' ').trim()).toBe('latin1innerlonglatin1 63 61 66 e9 2e 74 78 74');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('reset', () => {
  it('removes a tree deeper than PATH_MAX, names that are not UTF-8 and locked directories', async () => {
    // 40 levels of a 200-byte name: 8,040 bytes, beyond PATH_MAX (4,096); Node's own fs.rm fails on it.
    sh(`n=$(printf 'a%.0s' $(seq 200)); mkdir -p top && cd top && for i in $(seq 40); do mkdir $n && cd $n; done && touch deep-file`);
    sh(`touch $'caf\\xe9.txt' && mkdir -p $'d\\xff/x' && mkdir -p locked/in && chmod 000 locked`);
    const slot = new ServerSlot('slot_0', dir);
    await slot.empty();
    expect(await readdir(dir)).toEqual([]);
  }, 60_000);
});
