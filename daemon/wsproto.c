/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of the RFC 6455 client (see wsproto.h): the upgrade
 * request is a field list handed to http_request_build(), the answer is
 * judged on http.c's parsed head, and a frame header is read from a byte
 * array the caller copied out of its input buffer. Owns nothing beyond
 * its return values. Called by ws.c.
 */
#include "config.h"

#include "wsproto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "http.h"
#include "url.h"

#define WSPROTO_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WSPROTO_KEY_LEN 24 /* base64 of the 16-byte nonce */
#define WSPROTO_FIXED	5  /* the request's own field lines */

/* Sec-WebSocket-Key for nonce, and the Sec-WebSocket-Accept it implies. */
static int
wsproto_key(const unsigned char *nonce, char key[WSPROTO_KEY_LEN + 1],
    char accept[WSPROTO_ACCEPT_LEN + 1])
{
	char keyguid[WSPROTO_KEY_LEN + sizeof(WSPROTO_GUID)];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;

	(void)EVP_EncodeBlock((unsigned char *)key, nonce, WSPROTO_NONCE_LEN);
	memcpy(keyguid, key, WSPROTO_KEY_LEN);
	memcpy(keyguid + WSPROTO_KEY_LEN, WSPROTO_GUID, sizeof(WSPROTO_GUID));
	if (EVP_Digest(keyguid, sizeof(keyguid) - 1, md, &mdlen, EVP_sha1(),
		NULL) != 1 ||
	    mdlen != 20)
		return -EIO;
	(void)EVP_EncodeBlock((unsigned char *)accept, md, mdlen);
	return 0;
}

int
wsproto_request(const struct url *u,
    const unsigned char nonce[WSPROTO_NONCE_LEN], const char *const *fields,
    char accept[WSPROTO_ACCEPT_LEN + 1], char **ret, size_t *retlen)
{
	char key[WSPROTO_KEY_LEN + 1],
	    keyline[sizeof("Sec-WebSocket-Key: ") + WSPROTO_KEY_LEN];
	const char **all;
	struct http_request rq;
	size_t n = 0, i;
	int r;

	if ((r = wsproto_key(nonce, key, accept)) < 0)
		return r;
	(void)snprintf(keyline, sizeof(keyline), "Sec-WebSocket-Key: %s", key);
	while (fields != NULL && fields[n] != NULL)
		n++;
	/* Pointers only: the caller's lines are copied once, into *ret. */
	if ((all = calloc(WSPROTO_FIXED + n + 1, sizeof(*all))) == NULL)
		return -ENOMEM;
	all[0] = "Upgrade: websocket";
	all[1] = "Connection: Upgrade";
	all[2] = keyline;
	all[3] = "Sec-WebSocket-Version: 13";
	all[4] = "User-Agent: wrennd/" PACKAGE_VERSION;
	for (i = 0; i < n; i++)
		all[WSPROTO_FIXED + i] = fields[i];
	rq = (struct http_request){
	    .method = "GET",
	    .path = u->path,
	    .query = u->query,
	    .host = u->hostport,
	    .fields = all,
	};
	r = http_request_build(&rq, ret, retlen);
	free(all);
	return r;
}

const char *
wsproto_check_101(const struct http *h, const char *accept)
{
	const char *got = http_header(h, "Sec-WebSocket-Accept");

	if (!http_header_has_token(h, "Upgrade", "websocket"))
		return "101 without 'Upgrade: websocket'";
	if (!http_header_has_token(h, "Connection", "upgrade"))
		return "101 without 'Connection: Upgrade'";
	if (got == NULL)
		return "101 without Sec-WebSocket-Accept";
	if (http_header_repeated(h, "Sec-WebSocket-Accept") ||
	    strcmp(got, accept) != 0)
		return "wrong Sec-WebSocket-Accept";
	if (http_header(h, "Sec-WebSocket-Extensions") != NULL)
		return "server chose an extension that was not offered";
	if (http_header(h, "Sec-WebSocket-Protocol") != NULL)
		return "server chose a subprotocol that was not offered";
	return NULL;
}

enum wsproto_peek
wsproto_frame_peek(const unsigned char *p, size_t avail, size_t max_msg,
    uint64_t *msg_acc, uint64_t *frame_len)
{
	size_t need = 2, i;
	uint64_t plen;
	unsigned opcode;

	if (avail < 2)
		return WSPROTO_MORE;
	plen = p[1] & 0x7f;
	if (plen == 126)
		need += 2;
	else if (plen == 127)
		need += 8;
	if (p[1] & 0x80)
		need += 4; /* a mask key (a protocol error wslay reports) */
	if (avail < need)
		return WSPROTO_MORE;
	if (plen == 126)
		plen = (uint64_t)p[2] << 8 | p[3];
	else if (plen == 127)
		for (plen = 0, i = 2; i < 10; i++)
			plen = plen << 8 | p[i];
	opcode = p[0] & 0x0f;
	if (opcode & 0x08) {
		/* Control: final and at most 125 bytes, or a protocol error. */
		if (!(p[0] & 0x80) || plen > 125)
			return WSPROTO_BAD_CTRL;
	} else {
		if (opcode == 1 || opcode == 2) /* text, binary: a new one */
			*msg_acc = 0;
		if (plen > max_msg - *msg_acc)
			return WSPROTO_TOO_LARGE;
		*msg_acc += plen;
	}
	*frame_len = need + plen;
	return WSPROTO_FRAME;
}

unsigned
wsproto_close_payload(
    const unsigned char *p, size_t len, char *text, size_t textlen)
{
	size_t n = len > 2 ? len - 2 : 0;

	if (n > textlen - 1)
		n = textlen - 1;
	memcpy(text, p + 2 * (n > 0), n);
	text[n] = '\0';
	return len >= 2 ? (unsigned)p[0] << 8 | p[1] : 1005;
}
