import { type AppSettings, DEFAULT_WHATSAPP_TIMEOUT_SECONDS, parseStoredSettings } from '../apps/app-settings';
import type { Config } from '../config';
import type { AttemptRecord, ClaimedRequest } from '../db/delivery-attempts';
import { providerIdempotencyKey } from '../ids';
import { errorName } from '../log';
import type { Clock } from '../pacing/start-gate';
import type { Channel, MessageText, SendOutcome, SmsProvider } from '../providers/sms-provider';
import { decide } from './retry-policy';
import { type BatchRouting, routeRequest } from './route-jobs';

/**
 * One provider call for one claimed request, and what follows it: a transient failure whose next
 * attempt goes to another provider waits `FAILOVER_AFTER_SECONDS` instead of the backoff, and
 * one after which no provider may be called (an ambiguous outcome at the only provider without
 * idempotency keys) ends the request, since calling again could send the code twice.
 */
export async function attemptSend(args: {
  provider: SmsProvider;
  channel: Channel;
  code: string;
  request: ClaimedRequest;
  startedAt: number;
  config: Config;
  routing: BatchRouting;
  clock: Clock;
}): Promise<AttemptRecord> {
  const { provider, channel, request, config } = args;
  let outcome: SendOutcome;
  try {
    const settings = request.app_settings_json ? parseStoredSettings(request.app_settings_json) : null;
    outcome = await provider.send({
      requestId: request.id,
      phoneNumber: request.phone_number,
      code: args.code,
      idempotencyKey: providerIdempotencyKey(request.id),
      attemptNumber: request.attempts,
      channel,
      ...(settings?.templateId ? { templateId: settings.templateId } : {}),
      text: messageText(request.app_name, settings),
    });
  } catch (error) {
    // A throw inside an adapter may come after its request left: ambiguous, as a timeout is.
    outcome = { kind: 'transient', httpStatus: null, errorCode: 'provider_error', message: errorName(error), ambiguous: true };
  }
  const finishedAt = args.clock.now();
  const ambiguous = outcome.kind === 'transient' && Boolean(outcome.ambiguous);
  const context = {
    attemptNumber: request.attempts,
    now: finishedAt,
    expiresAt: request.expires_at,
    retry: config.provider.retry,
    maxAttempts: config.provider.maxAttempts,
  };
  let decision = decide(outcome, context);
  const autoWhatsApp = request.channel === 'auto' && channel === 'whatsapp';
  if (autoWhatsApp && outcome.kind === 'permanent') {
    // WhatsApp refused (no account for the number, no sender): the code goes by SMS instead.
    decision = decide({ ...outcome, kind: 'transient' }, { ...context, failoverSeconds: config.routing.failoverAfterSeconds });
    return record(decision.action === 'retry' ? { fallbackToSms: true } : {});
  }
  if (outcome.kind === 'transient' && decision.action === 'retry') {
    const { route: next } = routeRequest(args.routing, request, [{ provider: provider.name, channel, outcome: 'transient', ambiguous }], {
      consumeProbe: false,
    });
    if ('none' in next && autoWhatsApp) {
      decision = decide(outcome, { ...context, failoverSeconds: config.routing.failoverAfterSeconds });
      return record({ fallbackToSms: true });
    }
    if ('none' in next && next.none === 'outcome_unknown') {
      decision = {
        action: 'fail',
        errorCode: 'provider_outcome_unknown',
        message: `${outcome.errorCode}: the message may have gone out, and no other provider is left to send it safely`,
      };
    } else if ('provider' in next && next.provider !== provider.name) {
      decision = decide(outcome, { ...context, failoverSeconds: config.routing.failoverAfterSeconds });
    }
  }
  const timeout = autoWhatsApp && decision.action === 'sent' ? (settingsOf(request)?.whatsappTimeoutSeconds ?? DEFAULT_WHATSAPP_TIMEOUT_SECONDS) : null;
  return record(timeout === null ? {} : { fallbackAfterSeconds: timeout });

  function record(extra: Pick<AttemptRecord, 'fallbackAfterSeconds' | 'fallbackToSms'>): AttemptRecord {
    return {
      requestId: request.id,
      attemptNumber: request.attempts,
      provider: provider.name,
      channel,
      ...(ambiguous ? { ambiguous } : {}),
      ...(request.sms_fallback_at !== null ? { firstCheck: request.delivery_checks + 1 } : {}),
      ...extra,
      startedAt: args.startedAt,
      finishedAt,
      httpStatus: outcome.httpStatus,
      decision,
    };
  }
}

function settingsOf(request: ClaimedRequest): AppSettings | null {
  return request.app_settings_json ? parseStoredSettings(request.app_settings_json) : null;
}

/** The app's wording, read with the claim. Unreadable settings send without (and are reported when the app's key is used). */
function messageText(appName: string | null, settings: AppSettings | null): MessageText {
  return {
    appName,
    ...(settings?.smsDomain ? { smsDomain: settings.smsDomain } : {}),
    ...(settings?.smsTemplate ? { smsTemplate: settings.smsTemplate } : {}),
    ...(settings?.smsLocale ? { smsLocale: settings.smsLocale } : {}),
  };
}
