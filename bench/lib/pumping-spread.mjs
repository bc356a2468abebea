/**
 * The populations and the scope watch of the spread and slow pumping replays (bench/pumping.mjs
 * `--attack spread|slow`): pumping spread thin over 100 prefixes of one country, under every
 * per-prefix signal, against browser traffic (the development app's publishable key) where real
 * users solve a Turnstile challenge when asked and the attacker does not.
 */

/** What a browser page sends when its Turnstile widget was solved (the local stub's passing token). */
export const SOLVED_TOKEN = 'XXXX.DUMMY.TOKEN.XXXX';
/** The development app allows this origin (src/apps/development-app.ts). */
export const BROWSER_ORIGIN = 'http://localhost:8787';
/** The country attacked, and the scope its conversion is watched in. */
export const SPREAD_COUNTRY = 'IN';
export const SPREAD_SCOPE = `country:${SPREAD_COUNTRY}`;
export const SPREAD_PREFIXES = Array.from({ length: 100 }, (_, i) => `+919${String(i).padStart(2, '0')}`);

/**
 * The attack: `perSecondReal` requests a second from `startMs` to `endMs` (real, from the replay's
 * start), each to a random number of one of the 100 prefixes, round-robin, from a fresh address.
 */
export function spreadAttackPlan({ startMs, endMs, perSecondReal, randomInt }) {
  const interval = 1000 / perSecondReal;
  const requests = [];
  for (let i = 0; i < 1_000_000; i += 1) {
    const at = startMs + i * interval;
    if (at >= endMs) break;
    const prefix = SPREAD_PREFIXES[i % SPREAD_PREFIXES.length];
    requests.push({
      at,
      prefix,
      phone: `${prefix}${String(randomInt(0, 9_999_999)).padStart(7, '0')}`,
      ip: `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`,
      status: null,
    });
  }
  return requests;
}

/**
 * Makes `share` of the users who arrive in the first `earlyMs` come back later in the hour (between
 * `fromMs` and the end): a returning user has verified a code before, so a step-up serves it. The
 * return visit is a user of its own (same number, next address), marked `returning`.
 */
export function addReturningVisits(users, { share, earlyMs, fromMs, hourMs, random }) {
  const returns = [];
  for (const user of users) {
    if (user.at >= earlyMs || user.abandons || random() >= share) continue;
    returns.push({
      ...user,
      at: fromMs + random() * (hourMs - fromMs - 60_000 / 10),
      ip: user.ip.replace(/^100\./, '100.1'),
      returning: true,
      firstVisit: user,
      outcome: 'pending',
      gotCode: false,
    });
  }
  return [...users, ...returns].sort((a, b) => a.at - b.at);
}

/**
 * A browser's send: without a token first; when the step-up asks for one, the page shows the
 * Turnstile widget, the user solves it (`solveMs`) and the page sends again with its token.
 * `solves: false` is the attacker, who never does.
 */
export async function browserSend(post, body, { ip, solves, solveMs, sleep }) {
  const headers = { 'CF-Connecting-IP': ip, Origin: BROWSER_ORIGIN };
  const first = await post('/v1/otp', body, headers);
  if (first.status !== 400 || first.json?.error?.code !== 'turnstile_required') return { answer: first, challenged: false };
  if (!solves) return { answer: first, challenged: true };
  await sleep(solveMs);
  return { answer: await post('/v1/otp', { ...body, turnstileToken: SOLVED_TOKEN }, headers), challenged: true };
}

/** Polls the scope's state every `everyMs`, recording when it changed (for the times to step-up and to relax). */
export function watchScope({ request, base, headers, agent, scope, everyMs, sleep }) {
  const changes = [];
  let last = 'normal';
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const answer = await request('GET', `${base}/v1/admin/conversion-scopes`, { headers, agent });
        const entry = answer.json?.scopes?.find((candidate) => candidate.scope === scope);
        const mode = entry?.mode ?? 'normal';
        if (mode !== last) {
          changes.push({ at: Date.now(), mode, conversion: entry?.conversion ?? null, settledSends: entry?.settledSends ?? 0 });
          last = mode;
        }
      } catch {
        /* try again */
      }
      await sleep(everyMs);
    }
  })();
  return {
    changes,
    async stop() {
      running = false;
      await done;
    },
  };
}
