import { randomUUID } from 'node:crypto';
import { access, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import { SandboxClient } from '../../client/sandbox-client.js';
import { execOrThrow } from '../../common/exec.js';
import { projectRoot } from '../../common/paths.js';
import { CharliecloudDriver } from '../../drivers/charliecloud/charliecloud-driver.js';
import { LocalScheduler } from '../../schedulers/local/local-scheduler.js';
import { ensureImage } from '../ensure-image.js';
import { sifArchitecture } from './sif-builder.js';
import { parseSiftoolList, siftoolTypeName, summariseSifObjects } from './sif-layout.js';
import { isMountPoint, mountSifPartition } from './sif-mount.js';
import { primaryPartition, readSif } from './sif-reader.js';

// A test of the SIF artefact where no Apptainer runs: what is inside the file is checked with
// siftool, squashfuse and Charliecloud. It is NOT a singularity leg: no apptainer runs here.

const chRunEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', USER: process.env.USER || 'root' };
const exists = (path: string) => access(path).then(() => true, () => false);

describeWith(['siftool'], 'SIF image (image test, not a singularity leg): build and descriptors', () => {
  it('builds or reuses <hash>/sandbox.sif, and a second call is a cache hit', async ({ signal }) => {
    const first = await ensureImage('sif', { signal });
    expect(first.ref).toMatch(new RegExp(`/images/${first.hash}/sandbox\\.sif$`));
    expect(await ensureImage('sif', { signal })).toEqual({ ...first, cached: true });
  });

  it('holds the golden object list (deffile, primary SquashFS partition for this arch, group 1), read back as siftool lists it', async ({ signal }) => {
    const { ref, hash } = await ensureImage('sif', { signal });
    const image = await readSif(ref);
    const golden = (await readFile(join(projectRoot(), 'fixtures/images/sif/objects.golden.json'), 'utf8')).replaceAll('{arch}', sifArchitecture().name);
    expect(summariseSifObjects(image)).toEqual(JSON.parse(golden));
    expect(image.header).toMatchObject({ magic: 'SIF_MAGIC', version: '01', arch: sifArchitecture().name, launchScript: '#!/usr/bin/env run-singularity\n' });
    const listed = parseSiftoolList((await execOrThrow('siftool', ['list', ref], { signal })).stdout);
    expect(listed.map(({ id, start, end, type }) => ({ id, start, end, type }))).toEqual(
      image.descriptors.map((d) => ({ id: d.id, start: d.offset, end: d.offset + d.size, type: siftoolTypeName(d) })),
    );
    const definition = (await execOrThrow('siftool', ['dump', '1', ref], { signal })).stdout;
    expect(definition).toContain('Bootstrap: scratch');
    expect(definition).toContain(`io.hpc-sandbox.content-hash ${hash}`);
  });
});

describeWith(['siftool', 'squashfuse', 'charliecloud'], 'SIF image (image test, not a singularity leg): mounted with squashfuse, run under ch-run', () => {
  it('the sandbox server in the SIF partition answers /health and runs a command; everything is unmounted and removed after', async ({ signal }) => {
    const { ref, hash } = await ensureImage('sif', { signal });
    const parent = await mkdtemp(join(tmpdir(), 'hpcsb-sif-test-'));
    const scheduler = new LocalScheduler({ sessionId: `test-${randomUUID()}`, stopGraceMs: 2_000 });
    let mountDir = '';
    try {
      const mounted = await mountSifPartition(ref, { parentDir: parent, signal });
      mountDir = mounted.dir;
      try {
        expect(mounted.partition.offset).toBe(primaryPartition(await readSif(ref)).offset);
        expect(JSON.parse(await readFile(join(mounted.dir, '.singularity.d/labels.json'), 'utf8'))).toMatchObject({ 'io.hpc-sandbox.content-hash': hash });

        const placement = await scheduler.place({
          driver: new CharliecloudDriver(),
          spec: { slots: 1, envAllowlist: [], env: {}, isolation: 'auto', image: mounted.dir },
          ports: { mode: 'dynamic' },
          name: 'sif-image-test',
          signal,
        });
        try {
          await placement.waitUntilHealthy({ signal, timeoutMs: 60_000 });
          const client = new SandboxClient(placement.url);
          try {
            expect((await client.health()).status).toBe('ok');
            // Commands see only the image's system trees: its /.singularity.d stays out of view.
            const r = await client.bash('slot_0', 'echo $((6 * 7)); ls /.singularity.d 2>&1 | head -1');
            expect(r.success).toBe(true);
            expect(r.output).toBe("42\nls: cannot access '/.singularity.d': No such file or directory");
          } finally {
            await client.close();
          }
        } finally {
          await placement.stop();
        }

        // Apptainer's `exec` action script (what `apptainer exec image.sif ...` runs) works from the partition,
        // and so does tmux with the image's terminfo and locale.
        const viaAction = await execOrThrow(
          'ch-run',
          ['--unset-env=*', '--set-env=PATH=/usr/bin:/bin', '--set-env=TERM=xterm', '-t', mounted.dir, '--', '/.singularity.d/actions/exec', 'sh', '-c',
            'echo "$LANG $LD_LIBRARY_PATH"; tmux -S /tmp/t new-session -d -x 80 -y 24 "echo tmux-ok; sleep 5" && sleep 0.5 && tmux -S /tmp/t capture-pane -p | head -1; tmux -S /tmp/t kill-server'],
          { env: chRunEnv, cleanEnv: true, signal, timeoutMs: 30_000 },
        );
        expect(viaAction.stdout).toBe('C.UTF-8 /.singularity.d/libs\ntmux-ok\n');
      } finally {
        await mounted.unmount();
      }
      expect(await isMountPoint(mountDir)).toBe(false);
      expect(await exists(mountDir)).toBe(false);
    } finally {
      await scheduler.close();
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('a partition squashfuse cannot read fails the mount with its stderr, leaving no mount point', async ({ signal }) => {
    const parent = await mkdtemp(join(tmpdir(), 'hpcsb-sif-test-'));
    try {
      // The committed tiny SIF with its partition's SquashFS superblock zeroed.
      const broken = join(parent, 'broken.sif');
      await writeFile(broken, await readFile(join(projectRoot(), 'fixtures/images/sif/tiny.sif')));
      const { offset } = primaryPartition(await readSif(broken));
      const handle = await open(broken, 'r+');
      await handle.write(Buffer.alloc(96), 0, 96, offset);
      await handle.close();
      await expect(mountSifPartition(broken, { parentDir: parent, signal })).rejects.toThrowError(
        new RegExp(`^squashfuse could not mount the partition of ${broken.replaceAll('.', '\\.')} at offset ${offset} \\(exit \\d+\\): .+`),
      );
      expect(await readdir(parent)).toEqual(['broken.sif']);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
