// @ts-check
const spec = await (await fetch("/openapi.json")).json();
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
      out.textContent = res.status + ' ' + res.statusText + '\n' + await res.text();
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
