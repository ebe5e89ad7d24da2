/* SPDX-License-Identifier: MIT */
/*
 * Sequenced event buffer (see seqbuf.h). The events live in a ring of
 * pointers indexed by seq - first_seq (capacity a power of two), so every
 * operation on one cursor or one event is O(1). Every seq below first_seq
 * was dropped (events only leave from the oldest end), so first_seq is
 * also the number of dropped events, and the output offset of the last
 * SEQBUF_DROP_RING dropped events is kept in drop_cum[seq % RING].
 */
#include "config.h"

#include "seqbuf.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEQBUF_MALLOC_ALIGN 16 /* glibc chunk granularity */
#define SEQBUF_MALLOC_HDR   8  /* glibc chunk header */

struct seqbuf_event {
	uint64_t cum;	/* output bytes produced before this event */
	size_t datalen; /* output bytes in this event */
	size_t cost;	/* bytes charged (seqbuf_event_cost) */
	size_t textlen; /* bytes of text, without the NUL */
	char name[8];	/* start, stdout, stderr, exit, error, ... */
	char text[];	/* serialized fields, NUL-terminated */
};

struct seqbuf_cursor {
	uint64_t pos; /* next seq to hand out */
	uint64_t cum; /* output bytes before pos (if cum_known) */
	int cum_known;
	int pin;
};

struct seqbuf {
	struct seqbuf_event **ring; /* owned; cap slots, count used */
	size_t cap, head, count;
	uint64_t first_seq, next_seq;
	uint64_t out_bytes, lost_bytes;
	uint64_t *drop_cum; /* owned, SEQBUF_DROP_RING slots, NULL until the
			     * first drop */
	uint64_t drop_from; /* oldest seq recorded in drop_cum */
	size_t buffered, limit;
	unsigned ncursors;
	struct seqbuf_cursor *pin; /* borrowed, may be NULL */
};

struct seqbuf *
seqbuf_new(size_t limit)
{
	struct seqbuf *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->limit = limit;
	return b;
}

void
seqbuf_free(struct seqbuf *b)
{
	size_t i;

	if (b == NULL)
		return;
	assert(b->ncursors == 0);
	for (i = 0; i < b->count; i++)
		free(b->ring[(b->head + i) & (b->cap - 1)]);
	free(b->ring);
	free(b->drop_cum);
	free(b);
}

size_t
seqbuf_event_cost(size_t textlen)
{
	size_t n =
	    sizeof(struct seqbuf_event) + textlen + 1 + SEQBUF_MALLOC_HDR;

	n = (n + SEQBUF_MALLOC_ALIGN - 1) & ~(size_t)(SEQBUF_MALLOC_ALIGN - 1);
	/* the index may hold up to twice as many slots as events */
	return n + 2 * sizeof(struct seqbuf_event *);
}

/* The buffered event with sequence number seq (first_seq <= seq <
 * next_seq). */
static struct seqbuf_event *
seqbuf_at(const struct seqbuf *b, uint64_t seq)
{
	assert(seq >= b->first_seq && seq < b->next_seq);
	return b->ring[(b->head + (size_t)(seq - b->first_seq)) & (b->cap - 1)];
}

/* Double the index (in order, head at 0). */
static int
seqbuf_grow(struct seqbuf *b)
{
	struct seqbuf_event **ring;
	size_t cap = b->cap != 0 ? 2 * b->cap : 16, i;

	if ((ring = calloc(cap, sizeof(*ring))) == NULL)
		return -ENOMEM;
	for (i = 0; i < b->count; i++)
		ring[i] = b->ring[(b->head + i) & (b->cap - 1)];
	free(b->ring);
	b->ring = ring;
	b->cap = cap;
	b->head = 0;
	return 0;
}

int
seqbuf_push(
    struct seqbuf *b, const char *name, const json_t *fields, size_t datalen)
{
	struct seqbuf_event *ev;
	size_t textlen;

	textlen = json_dumpb(fields, NULL, 0, JSON_COMPACT);
	if (textlen == 0)
		return -ENOMEM;
	if (b->count == b->cap && seqbuf_grow(b) != 0)
		return -ENOMEM;
	if ((ev = malloc(sizeof(*ev) + textlen + 1)) == NULL)
		return -ENOMEM;
	if (json_dumpb(fields, ev->text, textlen, JSON_COMPACT) != textlen) {
		free(ev);
		return -ENOMEM;
	}
	ev->text[textlen] = '\0';
	ev->textlen = textlen;
	ev->cum = b->out_bytes;
	ev->datalen = datalen;
	ev->cost = seqbuf_event_cost(textlen);
	snprintf(ev->name, sizeof(ev->name), "%s", name);
	b->ring[(b->head + b->count) & (b->cap - 1)] = ev;
	b->count++;
	b->next_seq++;
	b->buffered += ev->cost;
	b->out_bytes += datalen;
	return 0;
}

/* Remember the output offset of the event being dropped. */
static void
seqbuf_remember_drop(struct seqbuf *b, uint64_t seq, uint64_t cum)
{
	if (b->drop_cum == NULL) {
		b->drop_cum = calloc(SEQBUF_DROP_RING, sizeof(uint64_t));
		if (b->drop_cum == NULL)
			return; /* later "lost" items are inexact, no worse */
		b->drop_from = seq;
	}
	b->drop_cum[seq % SEQBUF_DROP_RING] = cum;
}

size_t
seqbuf_trim(struct seqbuf *b)
{
	struct seqbuf_event *ev;
	size_t n = 0;

	while (b->buffered > b->limit && b->count > 0) {
		if (b->pin != NULL && b->pin->pos <= b->first_seq)
			break;
		ev = b->ring[b->head];
		b->ring[b->head] = NULL;
		b->head = (b->head + 1) & (b->cap - 1);
		b->count--;
		seqbuf_remember_drop(b, b->first_seq, ev->cum);
		b->first_seq++;
		b->buffered -= ev->cost;
		b->lost_bytes += ev->datalen;
		free(ev);
		n++;
	}
	return n;
}

int
seqbuf_over(const struct seqbuf *b)
{
	return b->buffered > b->limit;
}

void
seqbuf_stats(const struct seqbuf *b, struct seqbuf_stats *ret)
{
	ret->first_seq = b->first_seq;
	ret->next_seq = b->next_seq;
	ret->out_bytes = b->out_bytes;
	ret->lost_bytes = b->lost_bytes;
	ret->lost_events = b->first_seq;
	ret->buffered = b->buffered;
	ret->limit = b->limit;
	ret->nevents = b->count;
	ret->ncursors = b->ncursors;
}

/* Output bytes before seq, when still known (1), else 0. */
static int
seqbuf_cum_at(const struct seqbuf *b, uint64_t seq, uint64_t *ret)
{
	if (seq == 0) {
		*ret = 0;
		return 1;
	}
	if (seq >= b->next_seq) {
		*ret = b->out_bytes;
		return 1;
	}
	if (seq >= b->first_seq) {
		*ret = seqbuf_at(b, seq)->cum;
		return 1;
	}
	if (b->drop_cum != NULL && seq >= b->drop_from &&
	    b->first_seq - seq <= SEQBUF_DROP_RING) {
		*ret = b->drop_cum[seq % SEQBUF_DROP_RING];
		return 1;
	}
	return 0;
}

struct seqbuf_cursor *
seqbuf_cursor_new(struct seqbuf *b, uint64_t from, int pin)
{
	struct seqbuf_cursor *c;

	assert(!pin || b->pin == NULL);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->pos = from < b->next_seq ? from : b->next_seq;
	c->cum_known = seqbuf_cum_at(b, c->pos, &c->cum);
	c->pin = pin;
	if (pin)
		b->pin = c;
	b->ncursors++;
	return c;
}

void
seqbuf_cursor_free(struct seqbuf *b, struct seqbuf_cursor *c)
{
	if (c == NULL)
		return;
	if (b->pin == c)
		b->pin = NULL;
	b->ncursors--;
	free(c);
}

uint64_t
seqbuf_cursor_pos(const struct seqbuf_cursor *c)
{
	return c->pos;
}

/* The "lost" item for c, which is behind first_seq. */
static int
seqbuf_lost(const struct seqbuf *b, const struct seqbuf_cursor *c,
    struct seqbuf_item *ret)
{
	uint64_t first_cum, from_cum = 0;
	int exact;

	(void)seqbuf_cum_at(b, b->first_seq, &first_cum);
	exact = c->cum_known;
	if (exact)
		from_cum = c->cum;
	else
		exact = seqbuf_cum_at(b, c->pos, &from_cum);
	ret->seq = b->first_seq;
	ret->name = "lost";
	ret->fields = json_pack("{s:I, s:I, s:I, s:I, s:b}", "from_seq",
	    (json_int_t)c->pos, "to_seq", (json_int_t)(b->first_seq - 1),
	    "events", (json_int_t)(b->first_seq - c->pos), "bytes",
	    (json_int_t)(first_cum - from_cum), "exact", exact);
	return ret->fields != NULL ? 1 : -ENOMEM;
}

int
seqbuf_peek(const struct seqbuf *b, const struct seqbuf_cursor *c,
    struct seqbuf_item *ret)
{
	const struct seqbuf_event *ev;

	if (c->pos >= b->next_seq)
		return 0;
	if (c->pos < b->first_seq)
		return seqbuf_lost(b, c, ret);
	ev = seqbuf_at(b, c->pos);
	ret->fields = json_loadb(ev->text, ev->textlen, JSON_ALLOW_NUL, NULL);
	if (ret->fields == NULL)
		return -ENOMEM; /* we wrote the text: only OOM fails */
	ret->seq = c->pos;
	ret->name = ev->name;
	return 1;
}

void
seqbuf_advance(const struct seqbuf *b, struct seqbuf_cursor *c)
{
	const struct seqbuf_event *ev;

	if (c->pos >= b->next_seq)
		return;
	if (c->pos < b->first_seq) {
		c->pos = b->first_seq;
		c->cum_known = seqbuf_cum_at(b, c->pos, &c->cum);
		return;
	}
	ev = seqbuf_at(b, c->pos);
	c->pos++;
	c->cum = ev->cum + ev->datalen;
	c->cum_known = 1;
}
