/* Request metrics.  The set of (route, method, status) series is small and
 * bounded (routes are a fixed table), so a locked array is enough. */
#include "allot/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allot/buf.h"

#define MAX_SERIES 512

static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,   0.25,   0.5,   1.0,  2.5,   5.0, 10.0};
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

struct series {
    const char *route; /* static strings: route patterns or "unmatched" */
    char method[8];
    unsigned status;
    uint64_t count;
};

/* Small labelled counters: session results, grants by type, sync outcomes. */
#define MAX_LABELS 32
struct labelled {
    char label[48];
    uint64_t count;
};

static void bump(struct labelled *set, const char *label)
{
    for (size_t i = 0; i < MAX_LABELS; i++) {
        if (set[i].label[0] == '\0')
            snprintf(set[i].label, sizeof set[i].label, "%s", label);
        if (strcmp(set[i].label, label) == 0) {
            set[i].count++;
            return;
        }
    }
}

struct metrics {
    pthread_mutex_t lock;
    struct labelled session_results[MAX_LABELS];
    struct labelled grants[MAX_LABELS];
    struct labelled syncs[MAX_LABELS];
    uint64_t retention_removed;
    struct series series[MAX_SERIES];
    size_t nseries;
    uint64_t buckets[NBOUNDS + 1];
    double sum;
    uint64_t count;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof *m);
    if (m != NULL)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void metrics_observe(struct metrics *m, const char *route, const char *method,
                     unsigned status, double seconds)
{
    /* Unknown methods are folded so that a client cannot grow the series. */
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    const char *meth = "OTHER";
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(method, known[i]) == 0)
            meth = known[i];
    pthread_mutex_lock(&m->lock);
    size_t i;
    for (i = 0; i < m->nseries; i++) {
        struct series *s = &m->series[i];
        if (s->status == status && strcmp(s->route, route) == 0 && strcmp(s->method, meth) == 0)
            break;
    }
    if (i == m->nseries && m->nseries < MAX_SERIES) {
        struct series *s = &m->series[m->nseries++];
        s->route = route;
        memcpy(s->method, meth, strlen(meth) + 1);
        s->status = status;
    }
    if (i < m->nseries)
        m->series[i].count++;
    size_t b = 0;
    while (b < NBOUNDS && seconds > bounds[b])
        b++;
    m->buckets[b]++;
    m->sum += seconds;
    m->count++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_session(struct metrics *m, const char *result_code, const char *access_type)
{
    pthread_mutex_lock(&m->lock);
    bump(m->session_results, result_code);
    if (access_type != NULL)
        bump(m->grants, access_type);
    pthread_mutex_unlock(&m->lock);
}

void metrics_sync(struct metrics *m, const char *outcome)
{
    pthread_mutex_lock(&m->lock);
    bump(m->syncs, outcome);
    pthread_mutex_unlock(&m->lock);
}

void metrics_retention(struct metrics *m, uint64_t rows)
{
    pthread_mutex_lock(&m->lock);
    m->retention_removed += rows;
    pthread_mutex_unlock(&m->lock);
}

static void render_labelled(struct buf *out, const char *name, const char *help,
                            const char *label, const struct labelled *set)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (size_t i = 0; i < MAX_LABELS && set[i].label[0] != '\0'; i++)
        buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, label, set[i].label,
                   (unsigned long long)set[i].count);
}

void metrics_render(struct metrics *m, struct buf *out)
{
    pthread_mutex_lock(&m->lock);
    render_labelled(out, "allot_session_decisions_total",
                    "Session starts by result code (Ok = granted).", "result_code",
                    m->session_results);
    render_labelled(out, "allot_session_grants_total", "Sessions granted by access type.",
                    "access_type", m->grants);
    render_labelled(out, "allot_license_syncs_total", "License syncs by outcome.", "outcome",
                    m->syncs);
    buf_printf(out, "# HELP allot_retention_rows_removed_total Rows of history (ended sessions, "
                    "audit events, returned login passes, aggregates over ten years old) this "
                    "process removed under ALLOT_RETENTION.\n"
                    "# TYPE allot_retention_rows_removed_total counter\n"
                    "allot_retention_rows_removed_total %llu\n",
               (unsigned long long)m->retention_removed);
    buf_printf(out, "# HELP allot_http_requests_total HTTP requests answered.\n"
                    "# TYPE allot_http_requests_total counter\n");
    for (size_t i = 0; i < m->nseries; i++) {
        const struct series *s = &m->series[i];
        buf_printf(out, "allot_http_requests_total{route=\"%s\",method=\"%s\",status=\"%u\"} %llu\n",
                   s->route, s->method, s->status, (unsigned long long)s->count);
    }
    buf_printf(out, "# HELP allot_http_request_duration_seconds Time from the first byte of a "
                    "request to the end of its reply.\n"
                    "# TYPE allot_http_request_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < NBOUNDS; b++) {
        cumulative += m->buckets[b];
        buf_printf(out, "allot_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[b],
                   (unsigned long long)cumulative);
    }
    cumulative += m->buckets[NBOUNDS];
    buf_printf(out, "allot_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                    "allot_http_request_duration_seconds_sum %.6f\n"
                    "allot_http_request_duration_seconds_count %llu\n",
               (unsigned long long)cumulative, m->sum, (unsigned long long)m->count);
    pthread_mutex_unlock(&m->lock);
}
