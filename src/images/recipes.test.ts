import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../common/paths.js';
import { CONTAINER_PORT, IMAGE_DATA_DIR, IMAGE_SERVER_PATH } from '../drivers/server-command.js';

// The online recipes are not built here (no registry); this keeps them in step with the paths the
// drivers use, which is what breaks silently when one side moves.
describe('online image recipes (fixtures/images)', () => {
  const recipe = (name: string) => readFile(join(projectRoot(), 'fixtures/images', name), 'utf8');

  it('Dockerfile: copies the bundle where drivers run it, creates /data, exposes the container port', async () => {
    const text = await recipe('Dockerfile');
    expect(text).toContain(`COPY dist/sandbox-server.mjs ${IMAGE_SERVER_PATH}`);
    expect(text).toMatch(new RegExp(`mkdir -p [^\\n]*${IMAGE_DATA_DIR}\\b`));
    expect(text).toContain(`EXPOSE ${CONTAINER_PORT}`);
    expect(text).toMatch(/install[^\n]*bash bubblewrap/);
  });

  it('sandbox.def: same bundle path and /data, bash and bubblewrap installed', async () => {
    const text = await recipe('sandbox.def');
    expect(text).toContain(`dist/sandbox-server.mjs ${IMAGE_SERVER_PATH}`);
    expect(text).toMatch(new RegExp(`mkdir -p [^\\n]*${IMAGE_DATA_DIR}\\b`));
    expect(text).toMatch(/install[^\n]*bash bubblewrap/);
  });
});
