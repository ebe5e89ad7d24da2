/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the wire decoder (line framing, envelope parse) and the
 * method table's parameter checks, on arbitrary client bytes.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "ipc.h"
#include "methods.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct methods_row *m;
	struct ipc_error err;
	struct ipc_msg msg;
	const char *p = (const char *)data;
	char why[256];
	size_t linelen, left = size;
	char *enc;
	size_t enclen;

	while (left > 0 && ipc_line_find(p, left, 4096, &linelen) == 1) {
		if (ipc_parse(p, linelen, &msg, &err) == 0 &&
		    msg.kind == IPC_KIND_REQUEST &&
		    (m = methods_find(msg.method)) != NULL &&
		    msg.params != NULL)
			(void)methods_check_params(
			    m, msg.params, why, sizeof(why));
		if (msg.root != NULL &&
		    (enc = ipc_encode(msg.root, &enclen)) != NULL) {
			/* what we encode must decode again */
			struct ipc_msg again;

			if (ipc_parse(enc, enclen - 1, &again, &err) ==
			    IPC_ERR_PARSE)
				__builtin_trap();
			ipc_msg_clear(&again);
			free(enc);
		}
		ipc_msg_clear(&msg);
		p += linelen + 1;
		left -= linelen + 1;
	}
	return 0;
}
