/* What the fuzz targets share.  Each target (fuzz_<name>.c) defines
 * LLVMFuzzerTestOneInput and is built two ways (tests/fuzz/meson.build):
 *   - with clang and -fsanitize=fuzzer (meson -Dfuzz=true, scripts/fuzz): a
 *     libFuzzer binary, run by tests/fuzz/run_libfuzzer for a bounded time;
 *   - otherwise, linked with replay.c: a deterministic driver that feeds the
 *     seed corpus (tests/fuzz/corpus/<name>/) and a fixed number of mutations
 *     of each seed, so the plain and sanitizer builds replay them too.
 * A target returns 0, frees what it made, and aborts (via a sanitizer or
 * FUZZ_ASSERT) only on a real bug. */
#ifndef ALLOT_FUZZ_H
#define ALLOT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "allot/license.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the code under test must keep, whatever the input. */
#define FUZZ_ASSERT(cond)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* The input as a NUL-terminated string (malloc'd; NULL when out of memory). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (t != NULL) {
        memcpy(t, data, size);
        t[size] = '\0';
    }
    return t;
}

/* One Ed25519 key for the whole run: the targets sign what the input says, so
 * the parsers behind a signature check are reached too. */
static inline EVP_PKEY *fuzz_key(void)
{
    static EVP_PKEY *key;
    if (key == NULL)
        key = lic_key_generate();
    return key;
}

#endif
