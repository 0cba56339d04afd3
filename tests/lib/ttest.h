/* ttest: a minimal TAP test harness shared by every suite.
 *
 *   static void test_something(void) { T_CHECK(1 + 1 == 2); T_EQ_INT(x, 3); }
 *   int main(void) { T_RUN(test_something); return t_done(); }
 *
 * Each T_RUN is one TAP test point ("ok N - name"); a failing check prints a
 * diagnostic ("# file:line: ...") and marks the current test failed.  Meson runs
 * the executables with protocol 'tap'.  t_skip_all() exits 77 (meson: skipped).
 */
#ifndef ALLOT_TTEST_H
#define ALLOT_TTEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct t_state {
    int run;
    int failed_tests;
    bool current_failed;
};

extern struct t_state t_state;

#define T_DEFINE_STATE struct t_state t_state

static inline void t_fail_at(const char *file, int line, const char *what)
{
    t_state.current_failed = true;
    printf("# %s:%d: check failed: %s\n", file, line, what);
    fflush(stdout);
}

#define T_CHECK(cond) \
    do { if (!(cond)) t_fail_at(__FILE__, __LINE__, #cond); } while (0)

#define T_EQ_INT(a, b) \
    do { \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
        if (t_a_ != t_b_) { \
            printf("#   %s = %lld, expected %s = %lld\n", #a, t_a_, #b, t_b_); \
            t_fail_at(__FILE__, __LINE__, #a " == " #b); \
        } \
    } while (0)

#define T_EQ_STR(a, b) \
    do { \
        const char *t_a_ = (a), *t_b_ = (b); \
        if (t_a_ == NULL || t_b_ == NULL || strcmp(t_a_, t_b_) != 0) { \
            printf("#   %s = \"%s\", expected \"%s\"\n", #a, t_a_ ? t_a_ : "(null)", \
                   t_b_ ? t_b_ : "(null)"); \
            t_fail_at(__FILE__, __LINE__, #a " == " #b); \
        } \
    } while (0)

/* Stops the current test function when a check it depends on failed. */
#define T_REQUIRE(cond) \
    do { if (!(cond)) { t_fail_at(__FILE__, __LINE__, #cond); return; } } while (0)

#define T_RUN(fn) t_run_one(#fn, fn)

static inline void t_run_one(const char *name, void (*fn)(void))
{
    t_state.current_failed = false;
    fn();
    t_state.run++;
    if (t_state.current_failed)
        t_state.failed_tests++;
    printf("%s %d - %s\n", t_state.current_failed ? "not ok" : "ok", t_state.run, name);
    fflush(stdout);
}

static inline int t_done(void)
{
    printf("1..%d\n", t_state.run);
    return t_state.failed_tests == 0 ? 0 : 1;
}

static inline void t_skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    exit(77);
}

#endif
