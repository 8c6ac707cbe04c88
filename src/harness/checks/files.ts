import { z } from 'zod';
import type { SandboxApi } from '../sandbox-api.js';
import { defineCheck } from './check.js';
import { ensure, quote, requireSuccess } from './check-failure.js';

const NAME = 'files';

const UTF8_SAMPLE = 'héllo wörld, ĉu vi? 日本語テキスト, emoji 🚀🧪, tab\tand "quotes" \'single\' $HOME `x`\nline two\n';

/**
 * `read_file` / `write_file`: what is written is read back byte for byte (UTF-8, a large file
 * just under the server's 100,000-character limit, nested directories), bash sees the same bytes,
 * and paths leaving the workspace are refused with 403 (`..`, absolute, through a symlink).
 */
export const filesCheck = defineCheck({
  name: NAME,
  description: 'read_file/write_file round trip (UTF-8, ~90 KB, nested dirs); escapes are refused with 403',
  options: z
    .object({
      /** Size of the large file, in characters. */
      largeChars: z.number().int().min(1).max(100_000).default(90_000),
    })
    .strict(),
  async run({ client, signal }, { largeChars }) {
    await roundTrip(client, 'utf8.txt', UTF8_SAMPLE, signal);
    const large = Array.from({ length: largeChars }, (_, i) => String.fromCharCode(97 + (i % 26)) + (i % 80 === 79 ? '\n' : ''))
      .join('')
      .slice(0, largeChars);
    await roundTrip(client, 'large.txt', large, signal);
    await roundTrip(client, 'nested/dir/deeper/file.txt', 'nested\n', signal);

    const refused: string[] = [];
    const ln = await client.bash(0, 'ln -sfn / escape-link', { signal });
    requireSuccess(NAME, 'ln -s / escape-link', ln);
    for (const path of ['../../../../etc/hostname', '/etc/hostname', 'escape-link/etc/hostname']) {
      const read = await client.readFile(0, path, { signal });
      ensure(!read.ok && read.status === 403, NAME, `read_file ${quote(path)} was not refused with 403: ${quote(read)}`, read.raw);
      refused.push(`read ${path}`);
    }
    for (const path of ['../hpcsb-escape.txt', '/tmp/hpcsb-escape.txt', 'escape-link/tmp/hpcsb-escape.txt']) {
      const write = await client.writeFile(0, path, 'escaped', { signal });
      ensure(!write.ok && write.status === 403, NAME, `write_file ${quote(path)} was not refused with 403: ${quote(write)}`, write.raw);
      refused.push(`write ${path}`);
    }
    return { state: 'passed', details: { largeChars, refused } };
  },
});

async function roundTrip(client: SandboxApi, path: string, content: string, signal: AbortSignal): Promise<void> {
  const written = await client.writeFile(0, path, content, { signal });
  ensure(written.ok, NAME, `write_file ${quote(path)} failed: ${quote(written)}`, written.raw);
  const read = await client.readFile(0, path, { signal });
  ensure(read.ok, NAME, `read_file ${quote(path)} failed: ${quote(read)}`, read.raw);
  ensure(
    read.content === content,
    NAME,
    `read_file ${quote(path)} returned ${read.content.length} chars differing from the ${content.length} written (first difference at ${firstDifference(read.content, content)})`,
  );
  // Minimal images have no sha256sum: the byte count, and the text itself for small files, prove what bash sees.
  const bytes = Buffer.byteLength(content, 'utf8');
  const counted = requireSuccess(NAME, `wc -c ${path}`, await client.bash(0, `wc -c < '${path}'`, { signal })).trim();
  ensure(Number(counted) === bytes, NAME, `bash counts ${counted} bytes in ${quote(path)}, ${bytes} were written`);
  if (content.length <= 4096) {
    const shown = requireSuccess(NAME, `cat ${path}`, await client.bash(0, `cat '${path}'`, { signal }));
    ensure(shown === content.trimEnd(), NAME, `bash cat ${quote(path)} shows ${quote(shown)}, expected ${quote(content.trimEnd())}`);
  }
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
