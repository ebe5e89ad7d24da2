/* SPDX-License-Identifier: MIT */
/*
 * A sequenced, byte-bounded event buffer with cursors (followers) and a
 * ring of recently dropped events. Pure: no sockets, no event loop, no
 * logging; exec streams (stream.c) use it, and so will any later stream
 * of sequenced events.
 *
 * Events get consecutive sequence numbers from 0 and are stored compactly
 * (name + serialized fields in one allocation), indexed by seq: finding a
 * cursor's event, advancing a cursor and dropping the oldest event are
 * O(1), whatever the number of cursors. Each event is charged what it
 * really costs (seqbuf_event_cost). Dropping happens only in seqbuf_trim,
 * from the oldest end, never past the one pinned cursor (the follower the
 * producer must not outrun); a cursor behind the buffer is told what it
 * lost with one "lost" item.
 */
#ifndef WRENND_SEQBUF_H
#define WRENND_SEQBUF_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct seqbuf;
struct seqbuf_cursor;

/* Dropped events whose output offset stays known (exact "lost" counts). */
#define SEQBUF_DROP_RING 1024

/* What seqbuf_peek hands out. */
struct seqbuf_item {
	uint64_t seq;	  /* the event's seq; for "lost", the next one kept */
	const char *name; /* borrowed until the buffer changes */
	json_t *fields;	  /* new reference, the caller's */
};

/* Counters of a buffer (as streams.list shows them). */
struct seqbuf_stats {
	uint64_t first_seq;   /* oldest buffered event (next_seq if none) */
	uint64_t next_seq;    /* seq the next event gets */
	uint64_t out_bytes;   /* output bytes of every event pushed */
	uint64_t lost_bytes;  /* output bytes of dropped events */
	uint64_t lost_events; /* dropped events */
	size_t buffered;      /* bytes charged by the buffered events */
	size_t limit;	      /* trim bound */
	size_t nevents;	      /* buffered events */
	unsigned ncursors;    /* live cursors */
};

/* A new empty buffer bounded by limit bytes; NULL on OOM. */
struct seqbuf *seqbuf_new(size_t limit);
/* Free b and its events. Every cursor must have been freed. NULL is a
 * no-op. */
void seqbuf_free(struct seqbuf *b);

/*
 * The bytes one event costs in memory: the allocation holding it
 * (rounded as malloc does) plus its slot in the index. textlen is the
 * length of its serialized fields.
 */
size_t seqbuf_event_cost(size_t textlen);

/*
 * Append an event (the next seq) named name (at most 7 bytes) with the
 * given fields (not stolen, serialized now) carrying datalen output bytes.
 * Does not trim. Returns 0, or -ENOMEM (nothing appended).
 */
int seqbuf_push(
    struct seqbuf *b, const char *name, const json_t *fields, size_t datalen);

/*
 * Drop the oldest events while more than limit bytes are charged, but
 * never one the pinned cursor has not passed. Returns the number dropped.
 */
size_t seqbuf_trim(struct seqbuf *b);

/* Whether more than limit bytes are charged (the producer should wait). */
int seqbuf_over(const struct seqbuf *b);

void seqbuf_stats(const struct seqbuf *b, struct seqbuf_stats *ret);

/*
 * A new cursor at seq from (clamped to next_seq), owned by the caller and
 * freed with seqbuf_cursor_free before the buffer. With pin, trimming
 * never drops an event it has not passed; at most one cursor is pinned.
 * NULL on OOM.
 */
struct seqbuf_cursor *seqbuf_cursor_new(
    struct seqbuf *b, uint64_t from, int pin);
void seqbuf_cursor_free(struct seqbuf *b, struct seqbuf_cursor *c);
/* The next seq c will be given. */
uint64_t seqbuf_cursor_pos(const struct seqbuf_cursor *c);

/*
 * What c gets next, without moving it: the event at its position, or,
 * when that was dropped, a "lost" item {from_seq, to_seq, events, bytes,
 * exact} covering everything up to the oldest buffered event (exact is
 * false when the output offset of from_seq is no longer known: bytes is
 * then an upper bound). Returns 1 with *ret filled, 0 when c is caught
 * up, -ENOMEM.
 */
int seqbuf_peek(const struct seqbuf *b, const struct seqbuf_cursor *c,
    struct seqbuf_item *ret);
/* Move c past what seqbuf_peek gave it (O(1); touches only c). */
void seqbuf_advance(const struct seqbuf *b, struct seqbuf_cursor *c);

#endif /* WRENND_SEQBUF_H */
