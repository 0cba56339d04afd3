/* Prometheus metrics kept in process: requests by route, method and status, a
 * latency histogram, and gauges read when /metrics is scraped. */
#ifndef ALLOT_METRICS_H
#define ALLOT_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics;
struct buf;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* route: the route pattern, or "unmatched". */
void metrics_observe(struct metrics *m, const char *route, const char *method,
                     unsigned status, double seconds);
/* A session decision: result code ("Ok", "NoAvailableAccessType", ...) and,
 * on a grant, the access type. */
void metrics_session(struct metrics *m, const char *result_code, const char *access_type);
void metrics_sync(struct metrics *m, const char *outcome);
/* Rows the retention removed (src/jobs/reaper.c). */
void metrics_retention(struct metrics *m, uint64_t rows);

/* Appends the request counters and the histogram in Prometheus text format. */
void metrics_render(struct metrics *m, struct buf *out);

#endif
