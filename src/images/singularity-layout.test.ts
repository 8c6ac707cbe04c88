import { lstat, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IMAGE_SERVER_PATH } from '../drivers/server-command.js';
import { sifDefinition, SINGULARITY_LINKS, writeSingularityLayout } from './singularity-layout.js';

describe('the /.singularity.d layout', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('writes the action scripts, environment scripts and runscript executable, labels and definition readable', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hpcsb-layout-'));
    dirs.push(root);
    await writeSingularityLayout(root, '0123456789abcdef');
    const mode = async (path: string) => (await lstat(join(root, path))).mode & 0o777;
    for (const action of ['exec', 'run', 'shell', 'start', 'test']) expect(await mode(`.singularity.d/actions/${action}`)).toBe(0o755);
    for (const env of ['01-base.sh', '90-environment.sh', '99-base.sh', '99-runtimevars.sh']) expect(await mode(`.singularity.d/env/${env}`)).toBe(0o755);
    expect(await mode('.singularity.d/runscript')).toBe(0o755);
    expect(await mode('.singularity.d/labels.json')).toBe(0o644);
    expect((await lstat(join(root, '.singularity.d/libs'))).isDirectory()).toBe(true);
    expect(JSON.parse(await readFile(join(root, '.singularity.d/labels.json'), 'utf8'))).toEqual({
      'org.label-schema.schema-version': '1.0',
      'io.hpc-sandbox.image': 'sandbox',
      'io.hpc-sandbox.content-hash': '0123456789abcdef',
    });
    expect(await readFile(join(root, '.singularity.d/Singularity'), 'utf8')).toBe(sifDefinition('0123456789abcdef'));
    for (const [link, target] of Object.entries(SINGULARITY_LINKS)) expect(await readlink(join(root, link))).toBe(target);
  });

  it('`apptainer exec` sources the environment scripts before the command; `run` starts the sandbox server', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hpcsb-layout-'));
    dirs.push(root);
    await writeSingularityLayout(root, '0123456789abcdef');
    const exec = await readFile(join(root, '.singularity.d/actions/exec'), 'utf8');
    expect(exec).toMatch(/^#!\/bin\/sh\nfor script in \/\.singularity\.d\/env\/\*\.sh; do[\s\S]*\. "\$script"[\s\S]*done\n\nexec "\$@"\n$/);
    expect(await readFile(join(root, '.singularity.d/runscript'), 'utf8')).toBe(`#!/bin/sh\nexec /usr/bin/node ${IMAGE_SERVER_PATH} --data-dir /data "$@"\n`);
    // A default only: the launcher's APPTAINERENV_LANG must win.
    expect(await readFile(join(root, '.singularity.d/env/90-environment.sh'), 'utf8')).toBe('#!/bin/sh\n: "${LANG:=C.UTF-8}"\nexport LANG\n');
  });
});
