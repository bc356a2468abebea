-- Every index is a row written on each insert and on each change of an indexed column, and rows
-- written are what D1 bills by; rows read cost a thousandth as much. These three indexes cost a
-- write on nearly every step of every OTP and save only reads:
-- - the covering stats index on otp_requests (status, attempts, delivery, sent_at change four or
--   five times per OTP); stats range over otp_requests_created_id and read the rows instead;
-- - delivery_attempts_started, which delivery_attempts_stats (started_at first) already covers;
-- - verification_events_prefix_at: abuse defence gets verifications from the prefix objects
--   directly, and retention reads by time only.
DROP INDEX otp_requests_stats;
DROP INDEX delivery_attempts_started;
DROP INDEX verification_events_prefix_at;
