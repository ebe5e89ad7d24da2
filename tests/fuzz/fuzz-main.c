/* SPDX-License-Identifier: MIT */
/*
 * Standalone driver for the fuzz targets when not built with libFuzzer:
 * replays every file of the corpus directory given as argv[1], then a
 * fixed number of deterministic mutations of each (bit flips, truncation,
 * duplication, random bytes), and prints TAP. Under ASan/UBSan in CI this
 * is a cheap regression fuzzer; for real fuzzing link the target with
 * -fsanitize=fuzzer instead (see HACKING.md).
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUTATIONS 2000

static uint64_t fuzz_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
fuzz_rand(void)
{
	fuzz_state ^= fuzz_state << 13;
	fuzz_state ^= fuzz_state >> 7;
	fuzz_state ^= fuzz_state << 17;
	return fuzz_state;
}

/* One mutation of in (len bytes) into out (room for 2 * len + 64). */
static size_t
fuzz_mutate(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t n = len, i, k;

	memcpy(out, in, len);
	switch (fuzz_rand() % 5) {
	case 0: /* flip bits */
		for (k = 0; n > 0 && k < 1 + fuzz_rand() % 8; k++)
			out[fuzz_rand() % n] ^=
			    (uint8_t)(1u << (fuzz_rand() % 8));
		break;
	case 1: /* truncate */
		n = n > 0 ? fuzz_rand() % n : 0;
		break;
	case 2: /* duplicate a slice */
		if (n > 0) {
			i = fuzz_rand() % n;
			k = fuzz_rand() % (n - i + 1);
			if (k > 64)
				k = 64;
			memcpy(out + n, in + i, k);
			n += k;
		}
		break;
	case 3: /* random bytes */
		for (k = 0; n > 0 && k < 1 + fuzz_rand() % 4; k++)
			out[fuzz_rand() % n] = (uint8_t)fuzz_rand();
		break;
	default: /* interesting bytes */
		if (n > 0) {
			static const uint8_t b[] = {0, '\n', '\r', '"', '\\',
			    '{', '}', '[', ']', 0xff, 0xc3, '#', ' '};

			out[fuzz_rand() % n] = b[fuzz_rand() % sizeof(b)];
		}
		break;
	}
	return n;
}

static int
fuzz_file(const char *path, int *n)
{
	uint8_t *buf, *mut;
	size_t len;
	FILE *fp;
	int m;

	if ((fp = fopen(path, "rb")) == NULL)
		return -1;
	buf = malloc(1 << 20);
	mut = malloc((2 << 20) + 64);
	if (buf == NULL || mut == NULL) {
		fclose(fp);
		free(buf);
		free(mut);
		return -1;
	}
	len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	(void)LLVMFuzzerTestOneInput(buf, len);
	for (m = 0; m < MUTATIONS; m++)
		(void)LLVMFuzzerTestOneInput(mut, fuzz_mutate(buf, len, mut));
	free(buf);
	free(mut);
	printf("ok %d - %s (+%d mutations)\n", ++*n, path, MUTATIONS);
	return 0;
}

int
main(int argc, char **argv)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (argc != 2 || (d = opendir(argv[1])) == NULL) {
		printf("1..0 # SKIP no corpus directory\n");
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		if (fuzz_file(path, &n) != 0)
			printf("not ok %d - %s unreadable\n", ++n, path);
	}
	closedir(d);
	printf("1..%d\n", n);
	return 0;
}
