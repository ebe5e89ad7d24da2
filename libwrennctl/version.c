/* SPDX-License-Identifier: MIT */
/*
 * libwrennctl run-time version: what the loaded library is, as opposed to
 * the WRENNCTL_VERSION_* macros of the header a program was built with.
 */
#include "config.h"

#include "wrennctl.h"

#define CTL_STR(x)  #x
#define CTL_XSTR(x) CTL_STR(x)

const char *
wrennctl_version(void)
{
	return CTL_XSTR(WRENNCTL_VERSION_MAJOR) "." CTL_XSTR(
	    WRENNCTL_VERSION_MINOR) "." CTL_XSTR(WRENNCTL_VERSION_PATCH);
}

uint32_t
wrennctl_version_num(void)
{
	return WRENNCTL_VERSION_NUM;
}
