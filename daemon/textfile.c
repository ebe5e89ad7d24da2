/* SPDX-License-Identifier: MIT */
/* Reading a small text file whole (see textfile.h). */
#include "config.h"

#include "textfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
textfile_read(const char *path, size_t max, size_t *ret_len, int *ret_err,
    char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		*ret_err = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (unsigned long long)st.st_size > max) {
		if (max % 1024 == 0)
			snprintf(err, errlen,
			    "not a regular file of at most %zu KiB",
			    max / 1024);
		else
			snprintf(err, errlen,
			    "not a regular file of at most %zu bytes", max);
		close(fd);
		*ret_err = -EINVAL;
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		*ret_err = -ENOMEM;
		return NULL;
	}
	/* A file that shrinks while it is read is what was there. */
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*ret_len = got;
	return buf;
}
