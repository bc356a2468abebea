/** The example Worker's bindings and settings (wrangler.toml). */
export interface Env {
  ASSETS: Fetcher;
  /** Webhook events by request, verification tokens already taken. */
  STORE: KVNamespace;
  /** The OTP dispatcher's origin, as the page calls it too (the tokens' issuer). */
  OTP_SERVICE_URL: string;
  /** This app's id at the service: the audience its verification tokens carry. */
  OTP_APP_ID: string;
  /** For the page: sends and verifies from this app's allowed origins only. */
  OTP_PUBLISHABLE_KEY: string;
  /** For this backend only. */
  OTP_SECRET_KEY: string;
  /** Signs this app's own session cookie. */
  SESSION_SECRET: string;
  /** The webhook signing secret (`whsec_…`); empty when the app has no webhook. */
  OTP_WEBHOOK_SECRET: string;
}
