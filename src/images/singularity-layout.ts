import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LABEL_PREFIX } from '../drivers/labels.js';
import { DEFAULT_LANG } from '../drivers/sandbox-env.js';
import { IMAGE_DATA_DIR, IMAGE_SERVER_PATH } from '../drivers/server-command.js';

/** Apptainer's metadata folder inside an image: action scripts, environment scripts, runscript, labels. */
export const SINGULARITY_DIR = '/.singularity.d';

/** Where the image's node lives (see `IMAGE_NODE_PATH`); repeated here to keep this module free of the inputs. */
const NODE = '/usr/bin/node';

// Every action script first sources the environment scripts in name order, as Apptainer's own do.
const SOURCE_ENV = `for script in ${SINGULARITY_DIR}/env/*.sh; do
    if [ -f "$script" ]; then
        . "$script"
    fi
done
`;

const SERVER = `exec ${NODE} ${IMAGE_SERVER_PATH} --data-dir ${IMAGE_DATA_DIR} "$@"`;

/** One file of the layout: its content and mode. */
export interface LayoutFile {
  content: string;
  mode: number;
}

/**
 * The files Apptainer (and SingularityCE) expect under `/.singularity.d` of an image, so that
 * `apptainer exec|run|shell|test|instance start image.sif` work on a SIF this project built
 * without Apptainer. The action scripts behave as the ones `apptainer build` writes (source
 * `env/*.sh`, then run the command, the runscript, a shell, the test), minus SCIF apps, which this
 * image has none of. `run` and `instance start` start the sandbox server; the drivers use `exec`.
 *
 * `definition` is the definition file recorded in the image (`/.singularity.d/Singularity`, what
 * `apptainer inspect --deffile` prints); `hash` the content hash the labels carry.
 */
export function singularityFiles(hash: string, definition: string): Record<string, LayoutFile> {
  const script = (body: string): LayoutFile => ({ content: `#!/bin/sh\n${body}`, mode: 0o755 });
  return {
    [`${SINGULARITY_DIR}/actions/exec`]: script(`${SOURCE_ENV}\nexec "$@"\n`),
    [`${SINGULARITY_DIR}/actions/run`]: script(`${SOURCE_ENV}\nexec ${SINGULARITY_DIR}/runscript "$@"\n`),
    [`${SINGULARITY_DIR}/actions/shell`]: script(
      `${SOURCE_ENV}
if [ -n "\${APPTAINER_SHELL:-}" ] && [ -x "\${APPTAINER_SHELL}" ]; then
    exec "$APPTAINER_SHELL" "$@"
elif [ -x /bin/bash ]; then
    SHELL=/bin/bash
    PS1="Apptainer> "
    export SHELL PS1
    exec /bin/bash --norc "$@"
fi
SHELL=/bin/sh
export SHELL
exec /bin/sh "$@"
`,
    ),
    // PID 1 of an instance waits for this SIGCONT before the start script runs (Apptainer's protocol).
    [`${SINGULARITY_DIR}/actions/start`]: script(`kill -CONT 1\n${SOURCE_ENV}\nexec ${SINGULARITY_DIR}/startscript "$@"\n`),
    [`${SINGULARITY_DIR}/actions/test`]: script(`${SOURCE_ENV}\nexec ${SINGULARITY_DIR}/test "$@"\n`),
    [`${SINGULARITY_DIR}/env/01-base.sh`]: script(''),
    // A default only: the launcher's APPTAINERENV_LANG (the singularity driver sets it) wins.
    [`${SINGULARITY_DIR}/env/90-environment.sh`]: script(`: "\${LANG:=${DEFAULT_LANG}}"\nexport LANG\n`),
    // Libraries Apptainer binds in (`--nv`, `--rocm`) land in /.singularity.d/libs.
    [`${SINGULARITY_DIR}/env/99-base.sh`]: script(
      `if [ -z "\${LD_LIBRARY_PATH:-}" ]; then
    LD_LIBRARY_PATH=${SINGULARITY_DIR}/libs
else
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH:${SINGULARITY_DIR}/libs"
fi
PS1="Apptainer> "
export LD_LIBRARY_PATH PS1
`,
    ),
    // Apptainer hands APPTAINERENV_PATH / APPEND_PATH / PREPEND_PATH over in these three variables.
    [`${SINGULARITY_DIR}/env/99-runtimevars.sh`]: script(
      `if [ -n "\${SING_USER_DEFINED_PREPEND_PATH:-}" ]; then PATH="$SING_USER_DEFINED_PREPEND_PATH:$PATH"; fi
if [ -n "\${SING_USER_DEFINED_APPEND_PATH:-}" ]; then PATH="$PATH:$SING_USER_DEFINED_APPEND_PATH"; fi
if [ -n "\${SING_USER_DEFINED_PATH:-}" ]; then PATH="$SING_USER_DEFINED_PATH"; fi
unset SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH SING_USER_DEFINED_PATH
export PATH
`,
    ),
    [`${SINGULARITY_DIR}/runscript`]: script(`${SERVER}\n`),
    [`${SINGULARITY_DIR}/startscript`]: script(`${SERVER}\n`),
    [`${SINGULARITY_DIR}/test`]: script(`test -r ${IMAGE_SERVER_PATH} || { echo "${IMAGE_SERVER_PATH} is missing" >&2; exit 1; }\nexec ${NODE} --version\n`),
    [`${SINGULARITY_DIR}/labels.json`]: {
      content: JSON.stringify({ 'org.label-schema.schema-version': '1.0', [`${LABEL_PREFIX}.image`]: 'sandbox', [`${LABEL_PREFIX}.content-hash`]: hash }, null, '\t') + '\n',
      mode: 0o644,
    },
    [`${SINGULARITY_DIR}/Singularity`]: { content: definition, mode: 0o644 },
  };
}

/** Links Apptainer's build creates at the image root (older tools and users call these). */
export const SINGULARITY_LINKS: Record<string, string> = {
  '/.exec': '.singularity.d/actions/exec',
  '/.run': '.singularity.d/actions/run',
  '/.shell': '.singularity.d/actions/shell',
  '/.test': '.singularity.d/actions/test',
  '/environment': '.singularity.d/env/90-environment.sh',
  '/singularity': '.singularity.d/runscript',
};

/**
 * The definition file recorded in the SIF (its own data object) and in the image. The image is
 * assembled from this host's files, not bootstrapped, so this records what it holds and how it
 * behaves; `fixtures/images/sandbox.def` is the recipe that builds an equivalent image online.
 */
export function sifDefinition(hash: string): string {
  return `# Assembled offline by \`hpc-sandbox image build --format sif\` from the build host's files
# (node, sh, bash, bwrap, tmux and basic tools with their libraries, the sandbox server bundle).
# Content hash ${hash}. A record, not a recipe: fixtures/images/sandbox.def builds an equivalent
# image where a registry is reachable.
Bootstrap: scratch

%labels
    ${LABEL_PREFIX}.image sandbox
    ${LABEL_PREFIX}.content-hash ${hash}

%environment
    export LANG=\${LANG:-${DEFAULT_LANG}}

%runscript
    ${SERVER}

%startscript
    ${SERVER}

%test
    test -r ${IMAGE_SERVER_PATH} && ${NODE} --version
`;
}

/** Writes the `/.singularity.d` layout (files, the empty `libs/`, the root links) into `root`. */
export async function writeSingularityLayout(root: string, hash: string): Promise<void> {
  await mkdir(join(root, SINGULARITY_DIR, 'libs'), { recursive: true });
  for (const [path, file] of Object.entries(singularityFiles(hash, sifDefinition(hash)))) {
    await mkdir(join(root, dirname(path)), { recursive: true });
    await writeFile(join(root, path), file.content);
    // chmod after write: the umask would strip bits from the mode given to writeFile.
    await chmod(join(root, path), file.mode);
  }
  for (const [link, target] of Object.entries(SINGULARITY_LINKS)) await symlink(target, join(root, link));
}
