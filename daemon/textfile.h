/* SPDX-License-Identifier: MIT */
/*
 * Reading a small text file whole (the configuration file, the policy
 * file). No logging: the caller says what the file was for.
 */
#ifndef WRENND_TEXTFILE_H
#define WRENND_TEXTFILE_H

#include <stddef.h>

/*
 * Read the regular file at path, of at most max bytes, into a malloc'd
 * buffer (NUL-terminated; caller frees) with its length in *ret_len.
 * Returns it, or NULL with a negative errno in *ret_err (-EINVAL for
 * what is not a regular file or is larger than max) and the reason, for
 * the caller to put after the path, in err ("not a regular file of at
 * most 256 KiB").
 */
char *textfile_read(const char *path, size_t max, size_t *ret_len, int *ret_err,
    char *err, size_t errlen);

#endif /* WRENND_TEXTFILE_H */
