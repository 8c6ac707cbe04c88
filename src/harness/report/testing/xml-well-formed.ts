/**
 * A small XML 1.0 well-formedness check for reporter tests (no XML parser is a dependency):
 * balanced and properly nested elements, quoted attributes without `<` or raw `&`, entity
 * references only of the predefined or numeric kind, no forbidden control characters.
 * Returns the problems found (empty when well-formed) and the element names in document order.
 */
export function checkWellFormed(xml: string): { problems: string[]; elements: string[] } {
  const problems: string[] = [];
  const elements: string[] = [];
  const stack: string[] = [];
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(xml)) problems.push('forbidden control character');
  const checkText = (text: string, where: string) => {
    if (text.includes('<')) problems.push(`raw < in ${where}`);
    for (const m of text.matchAll(/&([^;\s]*);?/g)) {
      if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);$/.test(m[0])) problems.push(`bad entity ${m[0]} in ${where}`);
    }
  };
  let rest = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  let rootSeen = false;
  while (rest.length > 0) {
    const lt = rest.indexOf('<');
    if (lt === -1) {
      checkText(rest, 'trailing text');
      if (rest.trim() && stack.length === 0) problems.push('text outside the root element');
      break;
    }
    const text = rest.slice(0, lt);
    checkText(text, `text of <${stack.at(-1) ?? '(none)'}>`);
    if (text.trim() && stack.length === 0) problems.push('text outside the root element');
    rest = rest.slice(lt);
    const tag = /^<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(rest);
    if (!tag) {
      problems.push(`malformed tag at: ${rest.slice(0, 40)}`);
      break;
    }
    const [whole, closing, name, attrs, selfClosing] = tag;
    for (const a of attrs!.matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) checkText(a[2] ?? a[3] ?? '', `attribute ${a[1]} of <${name}>`);
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? 'nothing'}>`);
    } else {
      if (stack.length === 0 && rootSeen) problems.push(`second root element <${name}>`);
      rootSeen = true;
      elements.push(name!);
      if (!selfClosing) stack.push(name!);
    }
    rest = rest.slice(whole.length);
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  return { problems, elements };
}
