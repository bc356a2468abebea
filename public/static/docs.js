// @ts-check
/**
 * The API reference page's script (public/docs.html): every operation of the OpenAPI document with
 * its description, a form for its parameters and body, and the live answer when it is tried. A
 * field per bearer scheme of the document (an app's secret or publishable key, the admin token)
 * holds what an operation that needs it sends as `Authorization: Bearer …`; the values stay in
 * this tab (sessionStorage), as the dashboard's token does.
 */

/**
 * What the page reads of the OpenAPI document.
 * @typedef {{ $ref?: string, type?: string, example?: unknown, properties?: Record<string, Schema> }} Schema
 * @typedef {{ name: string, in: string, required?: boolean, schema?: Schema }} Parameter
 * @typedef {{
 *   summary?: string, description?: string, parameters?: Parameter[],
 *   requestBody?: { content?: Record<string, { schema?: Schema }> },
 *   security?: Array<Record<string, string[]>>,
 * }} Operation
 * @typedef {{ type: string, scheme?: string, description?: string }} SecurityScheme
 * @typedef {{
 *   paths: Record<string, Record<string, Operation>>,
 *   components: { schemas: Record<string, Schema>, securitySchemes?: Record<string, SecurityScheme> },
 * }} OpenApi
 */

/** @type {OpenApi} */
const spec = await (await fetch('/openapi.json')).json();
const root = document.getElementById('ops');
const keysRoot = document.getElementById('keys');
if (!root || !keysRoot) throw new Error('docs.html has no #ops or #keys');
root.textContent = '';
/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Partial<HTMLElementTagNameMap[K]>} [props]
 * @param {...(Node | string)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

/** The bearer schemes an operation may name, each with the field that holds its value. */
const KEY_STORAGE_PREFIX = 'otpd.docs.key.';
/** @type {Map<string, HTMLInputElement>} */
const keyFields = new Map();
for (const [name, scheme] of Object.entries(spec.components.securitySchemes ?? {})) {
  if (scheme.type !== 'http' || scheme.scheme !== 'bearer') continue;
  const input = el('input', {
    id: `key-${name}`,
    type: 'password',
    autocomplete: 'off',
    spellcheck: false,
    value: sessionStorage.getItem(KEY_STORAGE_PREFIX + name) ?? '',
  });
  input.dataset.testid = `key-${name}`;
  input.oninput = () => {
    const value = input.value.trim();
    if (value) sessionStorage.setItem(KEY_STORAGE_PREFIX + name, value);
    else sessionStorage.removeItem(KEY_STORAGE_PREFIX + name);
  };
  keyFields.set(name, input);
  keysRoot.append(el('label', { htmlFor: input.id, textContent: `${name}: ${scheme.description || 'bearer token'}` }), input);
}

/**
 * The Authorization header for an operation: the first of its schemes whose field holds a value.
 * @param {Operation} op
 * @returns {string | null}
 */
function authorizationFor(op) {
  for (const requirement of op.security ?? []) {
    for (const name of Object.keys(requirement)) {
      const value = keyFields.get(name)?.value.trim();
      if (value) return `Bearer ${value}`;
    }
  }
  return null;
}

for (const [path, methods] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(methods)) {
    /** @type {Array<{ p: Parameter, input: HTMLInputElement }>} */
    const fields = [];
    const box = el('div', { className: 'op' }, el('p', { textContent: op.description || '' }));
    const schemes = (op.security ?? []).flatMap((requirement) => Object.keys(requirement));
    if (schemes.length) box.append(el('p', { className: 'needs-key', textContent: `Sends the key above: ${schemes.join(' or ')}` }));
    for (const p of op.parameters || []) {
      const input = el('input', { placeholder: String(p.schema?.example ?? '') });
      fields.push({ p, input });
      box.append(el('label', { textContent: `${p.in}: ${p.name}${p.required ? ' (required)' : ''}` }), input);
    }
    /** @type {HTMLTextAreaElement | undefined} */
    let body;
    const schema = op.requestBody?.content?.['application/json']?.schema;
    if (schema) {
      body = el('textarea', { value: JSON.stringify(example(schema), null, 2) });
      box.append(el('label', { textContent: 'JSON body' }), body);
    }
    const out = el('pre');
    const send = el('button', { textContent: 'Send' });
    send.onclick = async () => {
      /** @type {Record<string, string>} */
      const headers = {};
      let url = path;
      const query = new URLSearchParams();
      for (const { p, input } of fields) {
        if (!input.value) continue;
        if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(input.value));
        else if (p.in === 'query') query.set(p.name, input.value);
        else if (p.in === 'header') headers[p.name] = input.value;
      }
      if (body) headers['Content-Type'] = 'application/json';
      const authorization = authorizationFor(op);
      if (authorization) headers.Authorization = authorization;
      const res = await fetch(url + (query.size ? `?${query}` : ''), { method: method.toUpperCase(), headers, body: body?.value });
      out.textContent = `${res.status} ${res.statusText}\n${await res.text()}`;
    };
    box.append(send, out);
    root.append(
      el('details', {}, el('summary', {}, el('span', { className: `m ${method}`, textContent: method.toUpperCase() }), `${path} — ${op.summary || ''}`), box),
    );
  }
}
/**
 * An example value for a schema: its own example, or an empty value of its type.
 * @param {Schema} schema
 * @returns {unknown}
 */
function example(schema) {
  const s = schema.$ref ? spec.components.schemas[schema.$ref.slice(schema.$ref.lastIndexOf('/') + 1)] : schema;
  if (!s) throw new Error(`The OpenAPI document has no schema ${schema.$ref}`);
  if (s.example !== undefined) return s.example;
  if (s.type === 'object') return Object.fromEntries(Object.entries(s.properties || {}).map(([k, v]) => [k, example(v)]));
  return s.type === 'string' ? '' : s.type === 'boolean' ? false : s.type === 'array' ? [] : 0;
}
