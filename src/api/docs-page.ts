/**
 * An interactive page for the OpenAPI document, self-contained (no CDN), so it also works in
 * local development without internet: every operation with its description, a form for its
 * parameters and body, and the live answer. Its one style sheet and one script carry `nonce`,
 * the only way the page's content security policy lets them apply.
 */
export function docsPage(specUrl: string, nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OTP dispatcher API</title>
<style nonce="${nonce}">
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; color: #1d2330; }
  h1 { font-size: 1.5rem; } details { border: 1px solid #d5d9e0; border-radius: 6px; margin: .5rem 0; }
  summary { cursor: pointer; padding: .6rem .8rem; font-family: ui-monospace, monospace; }
  .m { display: inline-block; min-width: 3.5rem; font-weight: 700; }
  .get { color: #1a7f37; } .post { color: #0550ae; } .delete { color: #cf222e; }
  .op { padding: 0 .8rem .8rem; } label { display: block; margin: .4rem 0 .1rem; font-size: .85rem; }
  input, textarea { width: 100%; box-sizing: border-box; font: 13px ui-monospace, monospace; padding: .3rem; }
  textarea { min-height: 5rem; } button { margin-top: .5rem; padding: .35rem 1rem; }
  pre { background: #f4f6f8; padding: .6rem; overflow: auto; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>OTP dispatcher API</h1>
<p>Spec: <a href="${specUrl}">${specUrl}</a>. Every operation below can be tried against this server.</p>
<div id="ops">Loading…</div>
<script type="module" nonce="${nonce}">
const spec = await (await fetch(${JSON.stringify(specUrl)})).json();
const root = document.getElementById('ops');
root.textContent = '';
const el = (tag, props = {}, ...children) => { const e = Object.assign(document.createElement(tag), props); e.append(...children); return e; };
for (const [path, methods] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(methods)) {
    const fields = [];
    const box = el('div', { className: 'op' }, el('p', { textContent: op.description || '' }));
    for (const p of op.parameters || []) {
      const input = el('input', { placeholder: p.schema?.example ?? '' });
      fields.push({ p, input });
      box.append(el('label', { textContent: p.in + ': ' + p.name + (p.required ? ' (required)' : '') }), input);
    }
    let body;
    const schema = op.requestBody?.content?.['application/json']?.schema;
    if (schema) {
      body = el('textarea', { value: JSON.stringify(example(schema), null, 2) });
      box.append(el('label', { textContent: 'JSON body' }), body);
    }
    const out = el('pre');
    const send = el('button', { textContent: 'Send' });
    send.onclick = async () => {
      let url = path; const query = new URLSearchParams(); const headers = {};
      for (const { p, input } of fields) {
        if (!input.value) continue;
        if (p.in === 'path') url = url.replace('{' + p.name + '}', encodeURIComponent(input.value));
        else if (p.in === 'query') query.set(p.name, input.value);
        else if (p.in === 'header') headers[p.name] = input.value;
      }
      if (body) headers['Content-Type'] = 'application/json';
      const res = await fetch(url + (query.size ? '?' + query : ''), { method: method.toUpperCase(), headers, body: body?.value });
      out.textContent = res.status + ' ' + res.statusText + '\\n' + await res.text();
    };
    box.append(send, out);
    root.append(el('details', {}, el('summary', {}, el('span', { className: 'm ' + method, textContent: method.toUpperCase() }), path + ' — ' + (op.summary || '')), box));
  }
}
function example(schema) {
  const s = schema.$ref ? spec.components.schemas[schema.$ref.split('/').pop()] : schema;
  if (s.example !== undefined) return s.example;
  if (s.type === 'object') return Object.fromEntries(Object.entries(s.properties || {}).map(([k, v]) => [k, example(v)]));
  return s.type === 'string' ? '' : s.type === 'boolean' ? false : s.type === 'array' ? [] : 0;
}
</script>
</body>
</html>`;
}
