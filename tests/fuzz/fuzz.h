/*
 * fuzz.h: what the fuzz targets share: a check that aborts (so libFuzzer
 * reports the input that broke it) and a reader that takes little-endian
 * numbers from the fuzzer's bytes, giving zeros once they run out.
 */
#ifndef OPENVEO_FUZZ_H
#define OPENVEO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,  \
			        __LINE__, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

/* The next n (<= 8) bytes as a little-endian number; 0 bytes past the end. */
static inline uint64_t fuzz_take(struct fuzz_in *in, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

#endif
