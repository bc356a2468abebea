/**
 * Fills a Markdown template with a Mustache-like subset, so the prose of a generated document
 * lives in a template file and the code only computes the values:
 *
 *   {{name}}, {{a.b}}        a value (looked up in the innermost section's item, then outwards)
 *   {{#name}}…{{/name}}      repeated for each item of a list; once for any other truthy value,
 *                            which becomes the innermost item when it is an object
 *   {{^name}}…{{/name}}      once when the value is falsy or an empty list
 *   {{! note }}              a comment, left out
 *
 * A section or comment tag alone on its line takes the whole line with it. There is no escaping
 * (the output is Markdown), and a value prints as a template literal would print it. A name that
 * no context has is an error rather than an empty string, so a misspelt placeholder cannot slip
 * into a document unnoticed.
 */

const TAG = /\{\{([#^/!]?)\s*([^}]*?)\s*\}\}/g;
const STANDALONE = /^[ \t]*(\{\{[#^/!][^}]*\}\})[ \t]*\r?\n/gm;

export function fillTemplate(template, view) {
  const tree = parse(template.replace(STANDALONE, '$1'));
  return render(tree, [view]);
}

function parse(source) {
  const root = { children: [] };
  const open = [root];
  let last = 0;
  for (const match of source.matchAll(TAG)) {
    const [whole, kind, name] = match;
    const parent = open.at(-1);
    if (match.index > last) parent.children.push(source.slice(last, match.index));
    last = match.index + whole.length;
    if (kind === '!') continue;
    if (kind === '#' || kind === '^') {
      const section = { name, inverted: kind === '^', children: [] };
      parent.children.push(section);
      open.push(section);
    } else if (kind === '/') {
      if (parent.name !== name) throw new Error(`template: {{/${name}}} closes ${parent.name ? `{{#${parent.name}}}` : 'nothing'}`);
      open.pop();
    } else {
      parent.children.push({ value: name });
    }
  }
  if (open.length > 1) throw new Error(`template: {{#${open.at(-1).name}}} is never closed`);
  root.children.push(source.slice(last));
  return root;
}

function render(node, stack) {
  let out = '';
  for (const child of node.children) {
    if (typeof child === 'string') out += child;
    else if ('value' in child) {
      out += String(lookup(child.value, stack));
    } else {
      const value = lookup(child.name, stack);
      const empty = !value || (Array.isArray(value) && value.length === 0);
      if (child.inverted) {
        if (empty) out += render(child, stack);
      } else if (Array.isArray(value)) {
        for (const item of value) out += render(child, [...stack, item]);
      } else if (!empty) {
        out += render(child, typeof value === 'object' ? [...stack, value] : stack);
      }
    }
  }
  return out;
}

/** `a.b.c`: `a` from the innermost context that has it, then plain property access. */
function lookup(path, stack) {
  const [head, ...rest] = path.split('.');
  const context = stack.findLast((item) => item !== null && typeof item === 'object' && head in item);
  if (!context) throw new Error(`template: {{${path}}} is not in the view`);
  return rest.reduce((value, key) => value?.[key], context[head]);
}
