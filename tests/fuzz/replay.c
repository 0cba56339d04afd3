/* The driver of a fuzz target in builds without libFuzzer (gcc, and the
 * AddressSanitizer build of ./scripts/test): feeds every file of the seed
 * corpus, then `rounds` deterministic mutations of each (flips, inserts,
 * deletions, repeats, and tokens that parsers care about), to the target's
 * LLVMFuzzerTestOneInput.  It passes when nothing crashes, leaks or trips a
 * sanitizer or a FUZZ_ASSERT; the real fuzzing is scripts/fuzz (libFuzzer).
 *
 *   fuzz_NAME CORPUS_DIR [ROUNDS]      prints one TAP point */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT 65536

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* One mutation of d (n bytes, room for cap); returns the new length. */
static size_t mutate(uint8_t *d, size_t n, size_t cap)
{
    static const char *const tokens[] = {
        ".", "\"", "{", "}", "[", "]", ",", ":", "\\u0000", "\xff", "%", "/", "=", "\n", "-",
        "9999999999999999999", "-1", "0", "1e308", "\"alg\":\"none\"", "null", "true",
        "ALLOT_LISTEN=", "ALLOT_THREADS=", "[::1]:", "90s", "AAAA"};
    size_t pos = n ? next() % n : 0;
    switch (next() % 5) {
    case 0:
        if (n)
            d[pos] ^= (uint8_t)(1u << (next() % 8));
        return n;
    case 1:
        if (n < cap) {
            memmove(d + pos + 1, d + pos, n - pos);
            d[pos] = (uint8_t)next();
            return n + 1;
        }
        return n;
    case 2:
        if (n) {
            memmove(d + pos, d + pos + 1, n - pos - 1);
            return n - 1;
        }
        return n;
    case 3: {
        size_t len = n - pos < 16 ? n - pos : 16;
        if (n + len <= cap) {
            memmove(d + pos + len, d + pos, n - pos);
            return n + len;
        }
        return n;
    }
    default: {
        const char *t = tokens[next() % (sizeof tokens / sizeof tokens[0])];
        size_t len = strlen(t);
        if (n + len <= cap) {
            memmove(d + pos + len, d + pos, n - pos);
            memcpy(d + pos, t, len);
            return n + len;
        }
        return n;
    }
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [ROUNDS]\n", argv[0]);
        return 2;
    }
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    DIR *dir = opendir(argv[1]);
    if (dir == NULL) {
        printf("not ok 1 - no seed corpus at %s\n1..1\n", argv[1]);
        return 1;
    }
    char *names[1024];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL && n < 1024;)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(dir);
    qsort(names, n, sizeof names[0], by_name); /* the same order every run */
    uint8_t *seed = malloc(REPLAY_MAX_INPUT), *data = malloc(REPLAY_MAX_INPUT);
    if (seed == NULL || data == NULL)
        return 1;
    long inputs = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
        FILE *f = fopen(path, "rb");
        size_t len = f != NULL ? fread(seed, 1, REPLAY_MAX_INPUT, f) : 0;
        if (f != NULL)
            fclose(f);
        LLVMFuzzerTestOneInput(seed, len);
        inputs++;
        for (long r = 0; r < rounds; r++) {
            memcpy(data, seed, len);
            size_t m = len;
            for (uint32_t k = 1 + next() % 4; k > 0; k--)
                m = mutate(data, m, REPLAY_MAX_INPUT);
            LLVMFuzzerTestOneInput(data, m);
            inputs++;
        }
        free(names[i]);
    }
    free(seed);
    free(data);
    printf("%s 1 - %zu seeds of %s and %ld inputs in all\n1..1\n", n > 0 ? "ok" : "not ok", n,
           argv[1], inputs);
    return n > 0 ? 0 : 1;
}
