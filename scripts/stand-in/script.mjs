/**
 * Scripted faults: a phone number with a script gets its steps in order, one per call, the last
 * repeating (see the stand-in's header for the steps).
 */

const SIMPLE_STEPS = new Set(['ok', 'hang', 'hang-after-send', 'malformed', 'truncated', 'wrong-shape']);

/** Checks one script step; returns it parsed as { kind, status?, retryAfter? }. */
export function parseStep(step) {
  if (typeof step !== 'string') throw new TypeError(`a script step must be a string, got ${JSON.stringify(step)}`);
  if (SIMPLE_STEPS.has(step)) return { kind: step };
  const match = /^([45]\d\d)(?::(\d{1,6}))?$/.exec(step);
  if (!match) throw new RangeError(`unknown script step: ${JSON.stringify(step)}`);
  const status = Number(match[1]);
  const retryAfter = match[2] === undefined ? null : Number(match[2]);
  return { kind: 'status', status, retryAfter };
}

/** Validates { phoneNumber: [step, ...] }; returns a Map of phoneNumber -> parsed steps. */
export function parseScript(script) {
  const parsed = new Map();
  if (script === undefined || script === null) return parsed;
  if (typeof script !== 'object' || Array.isArray(script)) throw new TypeError('a script is an object { phoneNumber: [step, ...] }');
  for (const [phoneNumber, steps] of Object.entries(script)) {
    if (!Array.isArray(steps) || steps.length === 0) throw new TypeError(`the script of ${phoneNumber} must be a non-empty array of steps`);
    parsed.set(
      phoneNumber,
      steps.map((step) => ({ step, ...parseStep(step) })),
    );
  }
  return parsed;
}

/** The scripts in force (the options' ones plus those added at run time) and how far each has got. */
export function createScriptBook(baseScript) {
  /** phoneNumber -> parsed steps; the options' scripts plus those added at run time */
  let scripts = new Map(baseScript);
  /** phoneNumber -> calls that number's script has answered so far */
  let scriptProgress = new Map();

  return {
    /** The next script step for a call to `phoneNumber`, or null when the number has no script. */
    nextStep(phoneNumber) {
      const steps = phoneNumber === null ? undefined : scripts.get(phoneNumber);
      if (!steps) return null;
      const used = scriptProgress.get(phoneNumber) ?? 0;
      scriptProgress.set(phoneNumber, used + 1);
      return steps[Math.min(used, steps.length - 1)];
    },
    /** Adds or replaces the scripts of the given numbers; their progress starts afresh. */
    setScript(script) {
      for (const [phoneNumber, steps] of parseScript(script)) {
        scripts.set(phoneNumber, steps);
        scriptProgress.delete(phoneNumber);
      }
    },
    count: () => scripts.size,
    reset() {
      scripts = new Map(baseScript);
      scriptProgress = new Map();
    },
  };
}
