// Prints the plain closing line CI readers look for ("N passed, N failed, N skipped") from the
// JUnit file vitest writes in CI (vitest.config.ts adds the junit reporter when CI is set).
import { readFileSync } from 'node:fs';

const xml = readFileSync(process.argv[2] ?? 'results/junit.xml', 'utf8');
const cases = xml.match(/<testcase\b[\s\S]*?(?:\/>|<\/testcase>)/g) ?? [];
let failed = 0;
let skipped = 0;
for (const c of cases) {
  if (/<(failure|error)\b/.test(c)) failed++;
  else if (/<skipped\b/.test(c)) skipped++;
}
console.log(`${cases.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped`);
