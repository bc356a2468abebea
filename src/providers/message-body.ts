import type { MessageText } from './sms-provider';

/**
 * The text of a code's message for vendors that take the whole text (Twilio). It is built for
 * autofill: the code comes first (notification previews and keyboards' suggestions show it at
 * once), then the app's name, and, when the app sets a domain, a last line `@domain #code`, the
 * origin-bound form the browsers' WebOTP API and iOS/Android keyboards read the code from, and
 * offer it only on that domain.
 */

export const MESSAGE_LOCALES = ['en', 'es', 'fr', 'de', 'pt', 'hi'] as const;
export type MessageLocale = (typeof MESSAGE_LOCALES)[number];
export const DEFAULT_LOCALE: MessageLocale = 'en';

/** Built-in wording by locale; `{code}` and `{app}` are filled in. */
const TEMPLATES: Record<MessageLocale, { withApp: string; withoutApp: string }> = {
  en: { withApp: '{code} is your {app} verification code.', withoutApp: '{code} is your verification code.' },
  es: { withApp: '{code} es tu código de verificación de {app}.', withoutApp: '{code} es tu código de verificación.' },
  fr: { withApp: '{code} est votre code de vérification {app}.', withoutApp: '{code} est votre code de vérification.' },
  de: { withApp: '{code} ist Ihr Bestätigungscode für {app}.', withoutApp: '{code} ist Ihr Bestätigungscode.' },
  pt: { withApp: '{code} é o seu código de verificação do {app}.', withoutApp: '{code} é o seu código de verificação.' },
  hi: { withApp: '{code} आपका {app} सत्यापन कोड है।', withoutApp: '{code} आपका सत्यापन कोड है।' },
};

export function renderMessageBody(code: string, text: MessageText = { appName: null }): string {
  const builtIn = TEMPLATES[(MESSAGE_LOCALES as readonly string[]).includes(text.smsLocale ?? '') ? (text.smsLocale as MessageLocale) : DEFAULT_LOCALE];
  const template = text.smsTemplate ?? (text.appName ? builtIn.withApp : builtIn.withoutApp);
  // One pass, so an app name containing `{code}` is never filled in with the code.
  const body = template.replace(/\{(code|app)\}/g, (_match, name: string) => (name === 'code' ? code : (text.appName ?? '')));
  return text.smsDomain ? `${body}\n\n@${text.smsDomain} #${code}` : body;
}
