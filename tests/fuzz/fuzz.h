/* The libFuzzer entry point each fuzz target defines. Built with -fsanitize=fuzzer it is
 * driven by libFuzzer; otherwise fuzz-main.c feeds it a corpus as an ordinary test. */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
