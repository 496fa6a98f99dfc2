/* Secrets out of command lines before they are kept or shown: the values of options that
 * carry credentials (--option access-tokens …, --access-tokens, --netrc-file, and
 * "access-tokens = …" inside an argument such as NIX_CONFIG) and the user information of URLs
 * (https://user:pass@host/… → https://<redacted>@host/…). Works on a command line whose
 * arguments were joined with spaces, as /proc/<pid>/cmdline is shown. */
#pragma once

#define REDACTED "<redacted>"

/* A copy of cmdline with secrets replaced by REDACTED. 0, -ENOMEM. */
int redact_cmdline(const char *cmdline, char **ret);
