/* SPDX-License-Identifier: MIT */
/* Fuzz target: the URL module (url_parse and both joins). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	struct url *u = NULL;
	char *text, *s = NULL;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (url_parse(text, &u, &why) == 0) {
		if (url_join(u, URL_AS_IS, "/v1/x?y=1", &s) == 0)
			free(s);
		if (url_join(u, URL_AS_WS, "v1/x", &s) == 0)
			free(s);
		url_free(u);
	}
	free(text);
	return 0;
}
