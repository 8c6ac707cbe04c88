import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunReport } from '../results.js';
import { toJson } from './format.js';
import { renderHtml } from './html.js';
import { renderJUnit } from './junit.js';
import { renderMarkdown } from './markdown.js';

/** The files `--report DIR` writes, by name. */
export const REPORT_FILES = ['report.json', 'junit.xml', 'summary.md', 'report.html'] as const;

/**
 * Writes report.json (the RunReport), junit.xml, summary.md and report.html into `dir`, creating
 * it. Each file is written to a temporary name and renamed, so a CI step reading the directory
 * never sees half a file. Returns the paths written.
 */
export async function writeReportDir(report: RunReport, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const contents: Record<(typeof REPORT_FILES)[number], string> = {
    'report.json': toJson(report),
    'junit.xml': renderJUnit(report),
    'summary.md': renderMarkdown(report),
    'report.html': renderHtml(report),
  };
  const written: string[] = [];
  for (const name of REPORT_FILES) {
    const path = join(dir, name);
    const partial = `${path}.${process.pid}.partial`;
    await writeFile(partial, contents[name]);
    await rename(partial, path);
    written.push(path);
  }
  return written;
}
