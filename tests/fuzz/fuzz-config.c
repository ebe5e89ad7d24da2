/* SPDX-License-Identifier: MIT */
/* Fuzz target: the configuration file parser. */
#include "config.h"

#include <stdint.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_error pe;
	struct conf *cfg;

	if ((cfg = conf_new()) == NULL)
		return 0;
	(void)conf_parse_buf(cfg, "fuzz", (const char *)data, size, &pe);
	conf_unref(cfg);
	return 0;
}
