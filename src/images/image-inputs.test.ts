import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { which } from '../common/which.js';
import { collectImageInputs, TERMINFO_DIRS } from './image-inputs.js';

describe('collectImageInputs', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('finds node, sh and their libraries, and hashes the bundle by content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-inputs-'));
    dirs.push(dir);
    const bundlePath = join(dir, 'sandbox-server.mjs');
    await writeFile(bundlePath, '// version 1\n');
    const first = await collectImageInputs({ bundlePath });
    const again = await collectImageInputs({ bundlePath });
    await writeFile(bundlePath, '// version 2\n');
    const changed = await collectImageInputs({ bundlePath });

    expect(first.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(again.hash).toBe(first.hash);
    expect(changed.hash).not.toBe(first.hash);
    expect(first.programs.sh).toMatch(/\/sh$/);
    expect(first.libraries.some((lib) => /\/libc\.so\.6$/.test(lib))).toBe(true);
    expect(first.libraries.some((lib) => /ld-linux/.test(lib))).toBe(true);
  });

  it('takes tmux with the terminal descriptions and the C.UTF-8 locale it needs to start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-inputs-'));
    dirs.push(dir);
    const bundlePath = join(dir, 'sandbox-server.mjs');
    await writeFile(bundlePath, '// bundle\n');
    const inputs = await collectImageInputs({ bundlePath });
    const tmux = await which('tmux', { PATH: `${process.env.PATH}:/usr/bin` });
    expect(inputs.programs.tmux).toBe(tmux);
    const screen = TERMINFO_DIRS.map((d) => `${d}/s/screen`).find((p) => existsSync(p));
    if (screen) expect(inputs.dataFiles).toContain(screen);
    if (existsSync('/usr/lib/locale/C.utf8/LC_CTYPE')) expect(inputs.dataFiles).toContain('/usr/lib/locale/C.utf8/LC_CTYPE');
    expect(inputs.dataFiles.length).toBeGreaterThan(0);
  });

  it('fails plainly when the bundle is missing', async () => {
    await expect(collectImageInputs({ bundlePath: '/nonexistent/sandbox-server.mjs' })).rejects.toThrowError(
      'Cannot build the sandbox image: cannot read the server bundle /nonexistent/sandbox-server.mjs (ENOENT; npm run build makes it)',
    );
  });
});
