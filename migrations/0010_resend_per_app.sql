-- A bulk resend decides per (app, phone): a phone with failed requests in two apps gets one new
-- request in each, since each app's login is waiting for its own code. The unique index that
-- allowed one new request per phone per resend becomes one per app and phone per resend.
-- app_id is NULL for requests made before apps existed, and NULLs never collide in a unique
-- index, so the index holds COALESCE(app_id, '') instead: those rows share one app, ''.
DROP INDEX otp_requests_resend_phone;
CREATE UNIQUE INDEX otp_requests_resend_app_phone
  ON otp_requests (resend_id, COALESCE(app_id, ''), phone_number) WHERE resend_id IS NOT NULL;
