// @ts-check
/**
 * The login page: phone number → code → logged in. It calls the OTP dispatcher directly, with the
 * app's publishable key (accepted only from the app's allowed origins), then hands the verification
 * token to this app's backend, which checks it and starts its own session. After that it shows the
 * events the service posted to the backend's webhook for this login.
 */

/** @param {string} id */
const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element;
};
const phoneForm = /** @type {HTMLFormElement} */ ($('phone-form'));
const codeForm = /** @type {HTMLFormElement} */ ($('code-form'));
const loggedIn = $('logged-in');
const message = $('message');

/** @type {{ serviceUrl: string, publishableKey: string, webhooks: boolean }} */
const config = await (await fetch('/api/config')).json();
$('sandbox-link').setAttribute('href', `${config.serviceUrl}/v1/sandbox/messages`);
/** @type {string | undefined} */
let requestId;

/** @param {'phone' | 'code' | 'logged-in'} step */
function show(step) {
  phoneForm.hidden = step !== 'phone';
  codeForm.hidden = step !== 'code';
  loggedIn.hidden = step !== 'logged-in';
  message.textContent = '';
}

/**
 * A call to the service with the publishable key; answers the JSON, or throws the API's error message.
 * @param {string} path
 * @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
async function callService(path, body, headers = {}) {
  const response = await fetch(`${config.serviceUrl}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${config.publishableKey}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${answer.error?.message ?? 'The service refused'} (${answer.error?.code ?? response.status})`);
  return answer;
}

phoneForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const phoneNumber = /** @type {HTMLInputElement} */ ($('phone')).value.trim();
  try {
    // A key per attempt: a retried click cannot send a second SMS.
    ({ requestId } = await callService('/v1/otp', { phoneNumber }, { 'Idempotency-Key': crypto.randomUUID() }));
    $('sent-to').textContent = phoneNumber;
    show('code');
    $('code').focus();
  } catch (error) {
    message.textContent = String(/** @type {Error} */ (error).message);
  }
});

codeForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const code = /** @type {HTMLInputElement} */ ($('code')).value.trim();
  try {
    const { token } = await callService(`/v1/otp/${requestId}/verify`, { code });
    // The backend checks the token itself: the page is not trusted to say who logged in.
    const session = await fetch('/api/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
    const answer = await session.json();
    if (!session.ok) throw new Error(answer.error);
    loggedInAs(answer.phoneNumber);
  } catch (error) {
    message.textContent = String(/** @type {Error} */ (error).message);
  }
});

$('start-over').addEventListener('click', () => show('phone'));
$('log-out').addEventListener('click', async () => {
  await fetch('/api/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  show('phone');
});

/** @param {string} phoneNumber */
function loggedInAs(phoneNumber) {
  $('phone-number').textContent = phoneNumber;
  show('logged-in');
  $('no-webhooks').hidden = config.webhooks;
  if (config.webhooks) void followEvents();
}

/** Shows the login's webhook events as they arrive, for a minute. */
async function followEvents() {
  const list = $('events');
  for (let i = 0; i < 60 && !loggedIn.hidden; i += 1) {
    const response = await fetch('/api/events');
    if (!response.ok) return;
    /** @type {{ events: Array<{ id: string, type: string, occurredAt: string, errorCode: string | null }> }} */
    const { events } = await response.json();
    list.replaceChildren(
      ...events.map((item) => {
        const entry = document.createElement('li');
        entry.dataset.type = item.type;
        entry.textContent = `${item.occurredAt} ${item.type}${item.errorCode ? ` (${item.errorCode})` : ''}`;
        return entry;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const current = await fetch('/api/session');
if (current.ok) loggedInAs((await current.json()).phoneNumber);
else show('phone');
