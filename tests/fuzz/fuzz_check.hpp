#pragma once
// Shared by the fuzz targets: a failed property is a crash, so libFuzzer saves the input.
// (assert() would vanish under NDEBUG; these do not.)

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)
