/* SPDX-License-Identifier: MIT */
/*
 * The sequenced event buffer (daemon/seqbuf.c) on its own: no daemon, no
 * network. Trim and the byte bound, the pinned cursor, independent O(1)
 * cursors (issue 12 finding 7), the real per-event cost (finding 8), the
 * drop ring and the "lost" accounting, including exact:false.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "seqbuf.h"
#include "tap.h"

/* Push one stdout event carrying `len` bytes of 'x'. */
static int
push_out(struct seqbuf *b, size_t len)
{
	char data[4096];
	json_t *f;
	int r;

	memset(data, 'x', len);
	f = json_pack("{s:s%}", "data", data, len);
	r = seqbuf_push(b, "stdout", f, len);
	json_decref(f);
	return r;
}

/* The length of the serialized fields of a stdout event of len bytes. */
static size_t
text_len(size_t len)
{
	return strlen("{\"data\":\"\"}") + len;
}

static json_int_t
field_int(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
test_push_and_peek(void)
{
	struct seqbuf *b = seqbuf_new(1 << 20);
	struct seqbuf_cursor *c;
	struct seqbuf_item it;
	struct seqbuf_stats st;
	json_t *f;
	int r, i;

	f = json_pack("{s:I}", "pid", (json_int_t)42);
	r = seqbuf_push(b, "start", f, 0);
	json_decref(f);
	ok(r == 0, "push start: expected 0, got %d", r);
	for (i = 0; i < 9; i++)
		(void)push_out(b, 10);
	seqbuf_stats(b, &st);
	ok(st.next_seq == 10, "10 pushes: next_seq expected 10, got %llu",
	    (unsigned long long)st.next_seq);
	ok(st.out_bytes == 90, "output bytes: expected 90, got %llu",
	    (unsigned long long)st.out_bytes);
	c = seqbuf_cursor_new(b, 0, 0);
	r = seqbuf_peek(b, c, &it);
	ok(r == 1, "peek at 0: expected 1, got %d", r);
	ok(it.seq == 0, "peek at 0: seq expected 0, got %llu",
	    (unsigned long long)it.seq);
	ok(strcmp(it.name, "start") == 0,
	    "peek at 0: name expected start, got %s", it.name);
	ok(field_int(it.fields, "pid") == 42,
	    "peek at 0: pid expected 42, got %lld",
	    (long long)field_int(it.fields, "pid"));
	json_decref(it.fields);
	seqbuf_advance(b, c);
	ok(seqbuf_cursor_pos(c) == 1, "advance: position expected 1, got %llu",
	    (unsigned long long)seqbuf_cursor_pos(c));
	seqbuf_cursor_free(b, c);
	c = seqbuf_cursor_new(b, 1000, 0);
	ok(seqbuf_cursor_pos(c) == 10,
	    "a cursor past the end starts at next_seq: expected 10, got %llu",
	    (unsigned long long)seqbuf_cursor_pos(c));
	r = seqbuf_peek(b, c, &it);
	ok(r == 0, "a caught-up cursor peeks nothing: expected 0, got %d", r);
	seqbuf_cursor_free(b, c);
	seqbuf_free(b);
}

static void
test_nul_bytes(void)
{
	struct seqbuf *b = seqbuf_new(1 << 20);
	struct seqbuf_cursor *c;
	struct seqbuf_item it;
	json_t *f;
	size_t n = 0;

	f = json_pack("{s:s%}", "data", "a\0b", (size_t)3);
	(void)seqbuf_push(b, "stdout", f, 3);
	json_decref(f);
	c = seqbuf_cursor_new(b, 0, 0);
	if (seqbuf_peek(b, c, &it) == 1) {
		n = json_string_length(json_object_get(it.fields, "data"));
		json_decref(it.fields);
	}
	ok(n == 3,
	    "an event with a NUL byte keeps its length: expected 3, "
	    "got %zu",
	    n);
	seqbuf_cursor_free(b, c);
	seqbuf_free(b);
}

/* Finding 8: each event is charged what it costs, not datalen + 64. */
static void
test_cost(void)
{
	struct seqbuf *b = seqbuf_new(1 << 20);
	struct seqbuf_stats st;
	size_t one = seqbuf_event_cost(text_len(1)), want;
	int i;

	for (i = 0; i < 100; i++)
		(void)push_out(b, 1);
	seqbuf_stats(b, &st);
	want = 100 * one;
	ok(st.buffered == want,
	    "100 one-byte events charge 100 x cost: expected %zu, got %zu",
	    want, st.buffered);
	/* one allocation holds the event: its header, text and NUL, at
	 * malloc granularity, plus its index slot */
	want = text_len(1) + 1 + 2 * sizeof(void *) + 8 + 32;
	ok(one >= want,
	    "a one-byte event costs at least its allocation and index slot: "
	    "expected >= %zu, got %zu",
	    want, one);
	ok(one % 16 == 0,
	    "the cost is rounded as malloc rounds: expected a "
	    "multiple of 16, got %zu",
	    one);
	seqbuf_free(b);
}

static void
test_trim(void)
{
	size_t cost = seqbuf_event_cost(text_len(100));
	struct seqbuf *b = seqbuf_new(10 * cost);
	struct seqbuf_stats st;
	size_t n;
	int i;

	for (i = 0; i < 25; i++)
		(void)push_out(b, 100);
	ok(seqbuf_over(b) == 1,
	    "25 events over a 10-event bound: over expected 1, got %d",
	    seqbuf_over(b));
	n = seqbuf_trim(b);
	ok(n == 15, "trim drops the oldest 15: expected 15, got %zu", n);
	seqbuf_stats(b, &st);
	ok(st.buffered == 10 * cost,
	    "trim leaves the bound: expected %zu, got "
	    "%zu",
	    10 * cost, st.buffered);
	ok(seqbuf_over(b) == 0, "after trim: over expected 0, got %d",
	    seqbuf_over(b));
	ok(st.first_seq == 15, "first_seq after trim: expected 15, got %llu",
	    (unsigned long long)st.first_seq);
	ok(st.lost_events == 15, "lost_events: expected 15, got %llu",
	    (unsigned long long)st.lost_events);
	ok(st.lost_bytes == 1500, "lost_bytes: expected 1500, got %llu",
	    (unsigned long long)st.lost_bytes);
	ok(st.nevents == 10, "events kept: expected 10, got %zu", st.nevents);
	n = seqbuf_trim(b);
	ok(n == 0, "trim within the bound drops nothing: expected 0, got %zu",
	    n);
	seqbuf_free(b);
}

/* The pinned cursor (an attached stream's owner) is never outrun. */
static void
test_pin(void)
{
	size_t cost = seqbuf_event_cost(text_len(100));
	struct seqbuf *b = seqbuf_new(4 * cost);
	struct seqbuf_cursor *owner, *other;
	struct seqbuf_stats st;
	struct seqbuf_item it;
	size_t n;
	int i;

	owner = seqbuf_cursor_new(b, 0, 1);
	other = seqbuf_cursor_new(b, 0, 0);
	for (i = 0; i < 10; i++)
		(void)push_out(b, 100);
	n = seqbuf_trim(b);
	ok(n == 0,
	    "nothing the owner has not read is dropped: expected 0, "
	    "got %zu",
	    n);
	ok(seqbuf_over(b) == 1,
	    "the buffer stays over its bound (the producer must wait): "
	    "expected 1, got %d",
	    seqbuf_over(b));
	for (i = 0; i < 3; i++) {
		if (seqbuf_peek(b, owner, &it) == 1)
			json_decref(it.fields);
		seqbuf_advance(b, owner);
	}
	n = seqbuf_trim(b);
	ok(n == 3, "the events the owner read are dropped: expected 3, got %zu",
	    n);
	seqbuf_stats(b, &st);
	ok(st.first_seq == 3,
	    "first_seq follows the owner: expected 3, got "
	    "%llu",
	    (unsigned long long)st.first_seq);
	ok(seqbuf_cursor_pos(other) == 0,
	    "another cursor keeps its position: expected 0, got %llu",
	    (unsigned long long)seqbuf_cursor_pos(other));
	seqbuf_cursor_free(b, owner);
	n = seqbuf_trim(b);
	ok(n == 3,
	    "without the pin trim reaches the bound: expected 3, got %zu", n);
	seqbuf_cursor_free(b, other);
	seqbuf_free(b);
}

/*
 * Finding 7: a cursor's position is its own. Advancing one of many
 * cursors moves only that one, and a cursor anywhere in the buffer is
 * given the event at its own seq (random access, no walk from the head).
 */
#define NCURSORS 1000

static void
test_many_cursors(void)
{
	struct seqbuf *b = seqbuf_new(64u << 20);
	struct seqbuf_cursor *c[NCURSORS];
	struct seqbuf_item it;
	uint64_t want;
	int i, moved = 0, right = 0, r;

	for (i = 0; i < 5000; i++)
		(void)push_out(b, 3);
	for (i = 0; i < NCURSORS; i++)
		c[i] = seqbuf_cursor_new(b, (uint64_t)i * 5, 0);
	seqbuf_advance(b, c[500]);
	for (i = 0; i < NCURSORS; i++) {
		want = (uint64_t)i * 5 + (i == 500);
		if (seqbuf_cursor_pos(c[i]) != want)
			moved++;
	}
	ok(moved == 0,
	    "advancing cursor 500 of %d moved no other: expected "
	    "0 moved, got %d",
	    NCURSORS, moved);
	ok(seqbuf_cursor_pos(c[500]) == 2501,
	    "cursor 500 advanced by one: expected 2501, got %llu",
	    (unsigned long long)seqbuf_cursor_pos(c[500]));
	for (i = 0; i < NCURSORS; i++) {
		r = seqbuf_peek(b, c[i], &it);
		if (r == 1 && it.seq == seqbuf_cursor_pos(c[i]))
			right++;
		if (r == 1)
			json_decref(it.fields);
	}
	ok(right == NCURSORS,
	    "every cursor is given the event at its own seq: expected %d, "
	    "got %d",
	    NCURSORS, right);
	for (i = 0; i < NCURSORS; i++)
		seqbuf_cursor_free(b, c[i]);
	seqbuf_free(b);
}

/* total events (seq 0 "start", then 10-byte stdout) trimmed to keep. */
static struct seqbuf *
dropped_buffer(int total, int keep)
{
	size_t cost = seqbuf_event_cost(text_len(10));
	struct seqbuf *b = seqbuf_new((size_t)keep * cost);
	json_t *f = json_pack("{s:I}", "pid", (json_int_t)1);
	int i;

	(void)seqbuf_push(b, "start", f, 0);
	json_decref(f);
	for (i = 1; i < total; i++)
		(void)push_out(b, 10);
	(void)seqbuf_trim(b);
	return b;
}

/* Peek the "lost" item of a cursor created at from. */
static json_t *
lost_for(struct seqbuf *b, uint64_t from, struct seqbuf_cursor **retc)
{
	struct seqbuf_cursor *c = seqbuf_cursor_new(b, from, 0);
	struct seqbuf_item it;

	*retc = c;
	if (seqbuf_peek(b, c, &it) != 1)
		return NULL;
	if (strcmp(it.name, "lost") != 0) {
		json_decref(it.fields);
		return NULL;
	}
	return it.fields;
}

static void
test_lost_exact(void)
{
	struct seqbuf *b = dropped_buffer(500, 100);
	struct seqbuf_cursor *c;
	struct seqbuf_item it;
	json_t *l;
	int r;

	l = lost_for(b, 0, &c);
	ok(l != NULL,
	    "a cursor at 0 behind the buffer: expected a lost item, "
	    "got %s",
	    l != NULL ? "one" : "none");
	ok(field_int(l, "from_seq") == 0, "lost.from_seq: expected 0, got %lld",
	    (long long)field_int(l, "from_seq"));
	ok(field_int(l, "to_seq") == 399, "lost.to_seq: expected 399, got %lld",
	    (long long)field_int(l, "to_seq"));
	ok(field_int(l, "events") == 400, "lost.events: expected 400, got %lld",
	    (long long)field_int(l, "events"));
	ok(field_int(l, "bytes") == 3990, "lost.bytes: expected 3990, got %lld",
	    (long long)field_int(l, "bytes"));
	ok(json_is_true(json_object_get(l, "exact")),
	    "lost.exact: expected true, got %s",
	    json_is_true(json_object_get(l, "exact")) ? "true" : "not true");
	json_decref(l);
	seqbuf_advance(b, c);
	ok(seqbuf_cursor_pos(c) == 400,
	    "after lost the cursor is at the oldest kept: expected 400, got "
	    "%llu",
	    (unsigned long long)seqbuf_cursor_pos(c));
	r = seqbuf_peek(b, c, &it);
	ok_int(r, 1, "then an event follows");
	ok_int(r == 1 ? (long long)it.seq : -1, 400,
	    "then the oldest kept event follows: its seq");
	ok_str(r == 1 ? it.name : NULL, "stdout",
	    "then the oldest kept event follows: its name");
	if (r == 1)
		json_decref(it.fields);
	seqbuf_cursor_free(b, c);
	seqbuf_free(b);
}

/* The drop ring keeps the offset of recent drops: from_seq > 0 is exact. */
static void
test_drop_ring(void)
{
	struct seqbuf *b = dropped_buffer(500, 100);
	struct seqbuf_cursor *c;
	json_t *l;

	l = lost_for(b, 300, &c);
	ok(l != NULL, "a cursor at 300 (dropped): expected a lost item, got %s",
	    l != NULL ? "one" : "none");
	ok(field_int(l, "events") == 100,
	    "lost.events from 300: expected 100, "
	    "got %lld",
	    (long long)field_int(l, "events"));
	ok(field_int(l, "bytes") == 1000,
	    "lost.bytes from 300: expected 1000, "
	    "got %lld",
	    (long long)field_int(l, "bytes"));
	ok(json_is_true(json_object_get(l, "exact")),
	    "lost.exact within the drop ring: expected true, got %s",
	    json_is_true(json_object_get(l, "exact")) ? "true" : "not true");
	json_decref(l);
	seqbuf_cursor_free(b, c);
	seqbuf_free(b);
}

/*
 * exact:false: a replay from seq 5 once more than SEQBUF_DROP_RING later
 * events were dropped; the offset of seq 5 is gone, bytes is an upper
 * bound (everything before the oldest kept event).
 */
static void
test_lost_inexact(void)
{
	int total = SEQBUF_DROP_RING + 600, keep = 100;
	struct seqbuf *b = dropped_buffer(total, keep);
	struct seqbuf_cursor *c;
	json_int_t first = total - keep;
	json_t *l;

	l = lost_for(b, 5, &c);
	ok(l != NULL,
	    "a cursor at 5, beyond the drop ring: expected a lost "
	    "item, got %s",
	    l != NULL ? "one" : "none");
	ok(json_is_false(json_object_get(l, "exact")),
	    "lost.exact beyond the drop ring: expected false, got %s",
	    json_is_false(json_object_get(l, "exact")) ? "false" : "not false");
	ok(field_int(l, "from_seq") == 5, "lost.from_seq: expected 5, got %lld",
	    (long long)field_int(l, "from_seq"));
	ok(field_int(l, "events") == first - 5,
	    "lost.events: expected %lld, got %lld", (long long)(first - 5),
	    (long long)field_int(l, "events"));
	ok(field_int(l, "bytes") == (first - 1) * 10,
	    "lost.bytes is the upper bound: expected %lld, got %lld",
	    (long long)(first - 1) * 10, (long long)field_int(l, "bytes"));
	json_decref(l);
	seqbuf_cursor_free(b, c);
	seqbuf_free(b);
}

/* A cursor that read events knows its offset however far it falls behind. */
static void
test_lost_tracked(void)
{
	size_t cost = seqbuf_event_cost(text_len(10));
	struct seqbuf *b = seqbuf_new(100 * cost);
	struct seqbuf_cursor *c = seqbuf_cursor_new(b, 0, 0);
	struct seqbuf_item it;
	json_t *l = NULL;
	int i;

	for (i = 0; i < 10; i++)
		(void)push_out(b, 10);
	for (i = 0; i < 10; i++) {
		if (seqbuf_peek(b, c, &it) == 1)
			json_decref(it.fields);
		seqbuf_advance(b, c);
	}
	for (i = 0; i < SEQBUF_DROP_RING + 500; i++)
		(void)push_out(b, 10);
	(void)seqbuf_trim(b);
	if (seqbuf_peek(b, c, &it) == 1)
		l = it.fields;
	ok(json_is_true(json_object_get(l, "exact")),
	    "a reader that fell behind by more than the ring: exact expected "
	    "true, got %s",
	    json_is_true(json_object_get(l, "exact")) ? "true" : "not true");
	ok(field_int(l, "bytes") == (json_int_t)(SEQBUF_DROP_RING + 400) * 10,
	    "its lost.bytes: expected %d, got %lld",
	    (SEQBUF_DROP_RING + 400) * 10, (long long)field_int(l, "bytes"));
	json_decref(l);
	seqbuf_cursor_free(b, c);
	seqbuf_free(b);
}

int
main(void)
{
	test_push_and_peek();
	test_nul_bytes();
	test_cost();
	test_trim();
	test_pin();
	test_many_cursors();
	test_lost_exact();
	test_drop_ring();
	test_lost_inexact();
	test_lost_tracked();
	return done_testing();
}
