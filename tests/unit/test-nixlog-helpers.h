/* Helpers shared by the record parser's unit tests (test-nixlog.c, test-nixlog-quick.c):
 * parsing a line both ways and comparing what a caller can read of the records. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/nixlog.h"

/* Whatever a caller can read of two records is the same. */
void assert_same_record(const NixRecord *a, const NixRecord *b);
/* Parses line both ways, on its own (the tree) and in place (the quick path when the line
 * has its shape): same result, same record. Returns the first's result, fills *ret with its
 * record on success. quick, when not NULL: whether the in-place parse took the quick path. */
int parse_both(const char *line, size_t len, NixRecord *ret, bool *quick);
/* fields[i] is the string expected. */
void assert_field_str(const NixRecord *rec, unsigned i, const char *expected);
