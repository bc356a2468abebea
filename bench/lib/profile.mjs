/**
 * A sampling CPU profile of the Worker's isolate under load, through the inspector port
 * `wrangler dev` exposes, with Node's built-in WebSocket (no dependency). In the local runtime the
 * Worker and its Durable Objects share one isolate and one thread, so the profile shows how that
 * thread's time splits between the request handler, the limiter objects and the bindings.
 */
import { sleep } from './harness.mjs';

export async function connectProfiler(inspectorPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error('no inspector target');
  // wrangler's inspector proxy accepts local origins only; a devtools client would send one.
  const socket = new WebSocket(url, { headers: { Origin: 'http://localhost' } });
  await new Promise((done, fail) => {
    socket.onopen = done;
    socket.onerror = () => fail(new Error('inspector connection failed'));
  });
  let nextId = 0;
  const pending = new Map();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.id && pending.has(message.id)) {
      pending.get(message.id)(message);
      pending.delete(message.id);
    }
  };
  const send = (method, params = {}) =>
    Promise.race([
      new Promise((done) => {
        const id = ++nextId;
        pending.set(id, done);
        socket.send(JSON.stringify({ id, method, params }));
      }),
      sleep(30_000).then(() => ({ error: { message: `${method} timed out` } })),
    ]);
  return {
    async start(intervalUs = 250) {
      await send('Profiler.enable');
      await send('Profiler.setSamplingInterval', { interval: intervalUs });
      await send('Profiler.start');
    },
    async stop() {
      const answer = await send('Profiler.stop');
      if (!answer.result?.profile) throw new Error(answer.error?.message ?? 'no profile');
      return answer.result.profile;
    },
    close() {
      socket.close();
    },
  };
}

/** Method names of the Durable Object classes, as they appear in the bundle. */
const OBJECT_METHODS = new Set(['consume', 'refund', 'admit', 'recordVerification', 'status', 'block', 'lift', 'alarm', 'reserve']);
const LIMITER_CALLERS = new Set(['admitSend', 'windowScope', 'prefixScope', 'globalScope', 'consumeLimit', 'refundLimit']);

/**
 * Splits the sampled time into categories by the frames on each sample's stack; "self" time of a
 * native call (SQLite, RPC, crypto) is charged to the JavaScript frame that made it.
 */
export function summariseProfile(profile, requests) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const categories = {};
  const selfByFunction = new Map();
  let total = 0;
  for (let index = 0; index < profile.samples.length; index += 1) {
    const us = profile.timeDeltas[index + 1] ?? profile.timeDeltas[index] ?? 0;
    const leaf = nodes.get(profile.samples[index]);
    const leafName = leaf.callFrame.functionName;
    let category;
    if (leafName === '(idle)') category = 'idle';
    else if (leafName === '(garbage collector)') category = 'garbage collection';
    else if (leafName === '(program)') category = 'runtime outside JavaScript';
    else {
      const stack = [];
      for (let id = leaf.id, depth = 0; id !== undefined && depth < 200; id = parent.get(id), depth += 1) stack.push(nodes.get(id).callFrame);
      if (stack.some((frame) => frame.url.includes('__mf_do_wrapper') || OBJECT_METHODS.has(frame.functionName)))
        category = 'limiter Durable Objects (JS and their SQLite storage calls)';
      else if (stack.some((frame) => frame.url.includes('d1-api'))) category = 'D1 binding (client side)';
      else if (stack.some((frame) => LIMITER_CALLERS.has(frame.functionName))) category = 'limiter calls from the Worker (RPC, hashing)';
      else category = 'Worker request handling (Hono, zod, handler, queue send)';
      const key = `${leafName || '(anonymous)'}${leaf.callFrame.url ? ` ${leaf.callFrame.url.split('/').pop()}:${leaf.callFrame.lineNumber}` : ''}`;
      selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + us);
    }
    categories[category] = (categories[category] ?? 0) + us;
    total += us;
  }
  const busy = total - (categories.idle ?? 0);
  return {
    sampledMs: total / 1000,
    busyMs: busy / 1000,
    requests,
    busyMsPerRequest: requests ? busy / 1000 / requests : NaN,
    categories: Object.entries(categories)
      .filter(([name]) => name !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, msPerRequest: requests ? us / 1000 / requests : NaN, share: busy ? us / busy : 0 })),
    topFunctions: [...selfByFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([name, us]) => ({ name, msPerRequest: requests ? us / 1000 / requests : NaN, share: busy ? us / busy : 0 })),
  };
}
