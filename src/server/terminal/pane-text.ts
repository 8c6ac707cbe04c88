/**
 * Raw terminal output as the plain text a reader wants: escape sequences (colours, cursor moves,
 * titles, bracketed-paste switches) removed, CR LF as LF, and a line rewritten after a bare CR
 * (progress bars) kept only as its last version. Not a terminal emulator: cursor motion is dropped,
 * not replayed (`capture` gives the rendered screen).
 */
// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte escapes, C1 CSI/OSC.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1bP[^\x1b]*(?:\x1b\\)?|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]/g;
// eslint-disable-next-line no-control-regex
const OTHER_CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

export function paneText(raw: string): string {
  const stripped = raw.replace(ESCAPES, '').replace(/\r+\n/g, '\n');
  const lines = stripped.split('\n').map((line) => {
    const cr = line.lastIndexOf('\r');
    const last = cr === -1 ? line : rewrite(line.split('\r'));
    return applyBackspaces(last).replace(OTHER_CONTROLS, '');
  });
  return lines.join('\n');
}

/** A line written over after CR: later writes cover earlier ones from the left. */
function rewrite(parts: string[]): string {
  let shown = '';
  for (const part of parts) shown = part + shown.slice(part.length);
  return shown;
}

function applyBackspaces(line: string): string {
  if (!line.includes('\b')) return line;
  let out = '';
  for (const ch of line) out = ch === '\b' ? out.slice(0, -1) : out + ch;
  return out;
}
