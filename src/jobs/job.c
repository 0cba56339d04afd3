#include "allot/jobs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "allot/log.h"

struct job {
    struct app *app;
    char name[32];
    int64_t interval_ms;
    job_fn fn;
    void *arg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, wake;
};

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void *run(void *arg)
{
    struct job *j = arg;
    int64_t delay = j->interval_ms;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        struct timespec until;
        deadline_after(&until, delay);
        while (!j->stop && !j->wake)
            if (pthread_cond_timedwait(&j->cond, &j->lock, &until) != 0)
                break;
        bool stop = j->stop;
        j->wake = false;
        pthread_mutex_unlock(&j->lock);
        if (stop)
            return NULL;
        delay = j->fn(j->app, j->arg);
        if (delay <= 0)
            delay = j->interval_ms;
    }
}

struct job *job_start(struct app *a, const char *name, int64_t interval_ms, job_fn fn, void *arg)
{
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->app = a;
    snprintf(j->name, sizeof j->name, "%s", name);
    j->interval_ms = interval_ms;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_init(&j->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&j->thread, NULL, run, j) != 0) {
        log_error(NULL, "cannot start the %s thread", name);
        free(j);
        return NULL;
    }
    return j;
}

void job_wake(struct job *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    j->wake = true;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
}

void job_stop(struct job *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j);
}
