#include "allot/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "allot/license.h"
#include "allot/log.h"
#include "allot/metrics.h"

int64_t app_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t app_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

void app_wall_pg(char out[40])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out, 40, "%.20s.%06u+00", date, (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

bool app_load_authority_key(struct app *a, char *err, size_t errlen)
{
    if (a->cfg->authority_public_key == NULL)
        return true;
    char why[256] = "";
    struct lic_keyring *ring = calloc(1, sizeof *ring);
    if (ring == NULL) {
        snprintf(err, errlen, "ALLOT_AUTHORITY_PUBLIC_KEY: out of memory");
        return false;
    }
    lic_keyring_init(ring);
    /* One PEM file, several separated by ',', each possibly a bundle. */
    if (lic_keyring_load(ring, a->cfg->authority_public_key, why, sizeof why) != 0 ||
        EVP_PKEY_up_ref(ring->e[0].pub) != 1) {
        snprintf(err, errlen, "ALLOT_AUTHORITY_PUBLIC_KEY: cannot load an Ed25519 public key from "
                 "\"%.200s\": %.200s", a->cfg->authority_public_key, why);
        lic_keyring_free(ring);
        free(ring);
        return false;
    }
    a->authority_keys = ring;
    a->authority_key = ring->e[0].pub;
    return true;
}

int app_init(struct app *a, const struct config *cfg)
{
    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    a->metrics = metrics_new();
    pthread_mutex_init(&a->schema_lock, NULL);
    pthread_mutex_init(&a->secret_lock, NULL);
    atomic_store(&a->schema_current, false);
    a->schema_seen = -1;
    return a->metrics != NULL ? 0 : -1;
}

void app_free(struct app *a)
{
    metrics_free(a->metrics);
    EVP_PKEY_free(a->authority_key);
    lic_keyring_free(a->authority_keys);
    free(a->authority_keys);
    a->authority_keys = NULL;
    pthread_mutex_destroy(&a->schema_lock);
    pthread_mutex_destroy(&a->secret_lock);
    memset(a, 0, sizeof *a);
}
