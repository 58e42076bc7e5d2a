/* fuzz.h: what the libFuzzer targets share: the entry point, CHECK, and the prefix step. */
#ifndef GATEHOUSE_FUZZ_H
#define GATEHOUSE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant: the run aborts (and libFuzzer keeps the input) when it does not hold. */
#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* The distance between the prefix lengths a target judges again: 1 (every prefix) for an
 * input of up to `all` bytes, else size / spread (about `spread` prefixes). */
static inline size_t
fuzz_prefix_step(size_t size, size_t all, size_t spread)
{
	return size <= all ? 1 : size / spread;
}

#endif
