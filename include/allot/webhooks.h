/* Alerts by webhook (src/jobs/webhooks.c): the thread that checks the
 * time-based conditions and delivers the outbox, and the Standard Webhooks
 * signature it sends.  The events themselves are written by the engine
 * (sql/webhook_*.sql), in the transaction of the fact each reports. */
#ifndef ALLOT_WEBHOOKS_H
#define ALLOT_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct webhooks;

/* A secret in the Standard Webhooks form: "whsec_" and the base64 of 32
 * random bytes (44 characters). */
#define WEBHOOK_SECRET_LEN 51
bool webhook_new_secret(char out[WEBHOOK_SECRET_LEN]);

/* The webhook-signature header's value, "v1,<base64 of HMAC-SHA256 over
 * id.timestamp.body>" keyed with the secret's bytes (after "whsec_"); false
 * when the secret is not in that form. */
#define WEBHOOK_SIGNATURE_LEN 48
bool webhook_sign(const char *secret, const char *id, long long timestamp, const char *body,
                  size_t body_len, char out[WEBHOOK_SIGNATURE_LEN]);

/* The delivery thread of this instance: every ALLOT_WEBHOOK_INTERVAL, and at
 * once when woken (NOTIFY allot_webhooks: an event was written), it checks
 * the time-based conditions and sends every due event, each claimed with
 * FOR UPDATE SKIP LOCKED so that of several instances one sends it.  It owns
 * one database connection.  NULL when it cannot start (logged). */
struct webhooks *webhooks_start(struct app *a);
void webhooks_wake(struct webhooks *w);
void webhooks_stop(struct webhooks *w);

#endif
