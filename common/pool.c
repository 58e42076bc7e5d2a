/* pool.c: the state file of `answer pool`: slots mapped by both daemons, the resolver's index of names. */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dname.h"
#include "util.h"

#define POOL_MAGIC "gatehouse-pool\n"	/* 16 bytes with its NUL */
#define POOL_VERSION 1
#define HEADER_SIZE 4096		/* one page: the slots start page-aligned */
#define READ_TRIES 64			/* a name being written: retries before "no name" */
#define REUSE_PASS 8192		/* slots with a connection open a new name passes */
#define NONE UINT32_MAX			/* no slot (the recency list's ends) */

/* The file: the header, then one struct pool_slot per slot. Fixed-width fields: the two
 * daemons are one build, but a file outlives a build, and an old layout is reset. */
struct pool_header {
	char magic[16];
	uint32_t version, slots;
	uint32_t slot_size;
	uint32_t len4, len6;
	uint8_t net4[4];
	uint8_t net6[16];
};

struct pool_slot {
	uint32_t seq;			/* odd while the resolver writes the name */
	uint32_t open;			/* the forwarder's open connections to the address */
	int64_t answered;		/* wall-clock seconds of the last answer with it */
	uint8_t len;			/* of name; 0: no name */
	char name[DNAME_MAX];		/* normalised, not NUL-terminated */
	uint8_t pad[2];
};

_Static_assert(sizeof(struct pool_header) <= HEADER_SIZE, "the header fits its page");
_Static_assert(sizeof(struct pool_slot) % 8 == 0, "slots stay aligned");

struct pool {
	struct pool_net net;
	struct pool_header *hdr;
	struct pool_slot *slot;
	size_t maplen;
	/* the resolver's index: name -> slot + 1 (0: empty), open addressing */
	uint32_t *index;
	uint32_t index_mask;
	uint32_t used;			/* slots holding a name */
	uint32_t next_free;		/* no slot below it is free */
	/* the resolver's recency list of the slots holding a name, least recently answered
	 * first: reuse takes from the front (no scan), an answer moves its slot to the end */
	uint32_t *prev, *next;
	uint32_t head, tail;
	uint64_t seed;			/* the index's hash seed: random per process, so a
					 * client cannot choose names that collide */
};

static size_t
map_size(uint32_t slots)
{
	return HEADER_SIZE + (size_t)slots * sizeof(struct pool_slot);
}

static void
header_for(struct pool_header *h, const struct pool_net *net)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, POOL_MAGIC, sizeof(h->magic));
	h->version = POOL_VERSION;
	h->slots = net->slots;
	h->slot_size = sizeof(struct pool_slot);
	h->len4 = net->len4;
	h->len6 = net->len6;
	memcpy(h->net4, &net->net4, 4);
	memcpy(h->net6, &net->net6, 16);
}

/* A name as the resolver writes it: 1-DNAME_MAX bytes of lowercase host-name characters
 * (the file could have been written by anything: what it says is checked). */
static int
name_ok(const char *s, size_t len)
{
	if (len == 0 || len > DNAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return 0;
	return 1;
}

static uint32_t
name_hash(const struct pool *p, const char *name, size_t len)
{
	return (uint32_t)util_hash(p->seed, name, len);
}

/* The index position for name: where its slot is, or the empty entry where it goes. */
static uint32_t *
index_find(struct pool *p, const char *name, size_t len)
{
	uint32_t i = name_hash(p, name, len) & p->index_mask;

	for (;;) {
		uint32_t *e = &p->index[i];
		const struct pool_slot *s;

		if (*e == 0)
			return e;
		s = &p->slot[*e - 1];
		if (s->len == len && memcmp(s->name, name, len) == 0)
			return e;
		i = (i + 1) & p->index_mask;	/* never full: twice the slots, at least */
	}
}

/* The index entry of slot i, found by the name it held (old, len): NULL if none. The
 * slot itself may hold another name already, so the probe compares slot numbers. */
static uint32_t *
index_find_slot(struct pool *p, const char *old, size_t len, uint32_t i)
{
	uint32_t k = name_hash(p, old, len) & p->index_mask;

	while (p->index[k] != 0) {
		if (p->index[k] == i + 1)
			return &p->index[k];
		k = (k + 1) & p->index_mask;
	}
	return NULL;
}

/* Remove the entry at e (linear probing: the entries after it in its cluster move back
 * where their own probe would find them). */
static void
index_remove(struct pool *p, uint32_t *e)
{
	uint32_t hole = (uint32_t)(e - p->index), i = hole;

	for (;;) {
		const struct pool_slot *s;
		uint32_t home;

		i = (i + 1) & p->index_mask;
		if (p->index[i] == 0)
			break;
		s = &p->slot[p->index[i] - 1];
		home = name_hash(p, s->name, s->len) & p->index_mask;
		/* it may fill the hole when its home is not in (hole, i], cyclically */
		if (hole <= i ? (home <= hole || home > i) : (home <= hole && home > i)) {
			p->index[hole] = p->index[i];
			hole = i;
		}
	}
	p->index[hole] = 0;
}

static void
lru_unlink(struct pool *p, uint32_t i)
{
	if (p->prev[i] != NONE)
		p->next[p->prev[i]] = p->next[i];
	else
		p->head = p->next[i];
	if (p->next[i] != NONE)
		p->prev[p->next[i]] = p->prev[i];
	else
		p->tail = p->prev[i];
}

static void
lru_append(struct pool *p, uint32_t i)
{
	p->prev[i] = p->tail;
	p->next[i] = NONE;
	if (p->tail != NONE)
		p->next[p->tail] = i;
	else
		p->head = i;
	p->tail = i;
}

/* Clear slot s's name (the writer's repair of a file it cannot trust). */
static void
slot_clear(struct pool_slot *s)
{
	s->len = 0;
	s->seq = (s->seq | 1) + 1;	/* even, and changed: a reader reads it again */
}

/* Build the index from the slots (at open). A name found twice (only a damaged file has
 * that) stays with its first slot. */
static void
index_rebuild(struct pool *p)
{
	memset(p->index, 0, ((size_t)p->index_mask + 1) * sizeof(*p->index));
	p->used = 0;
	for (uint32_t i = 0; i < p->net.slots; i++)
		if (p->slot[i].len != 0) {
			uint32_t *e = index_find(p, p->slot[i].name, p->slot[i].len);

			if (*e != 0) {
				slot_clear(&p->slot[i]);
				continue;
			}
			*e = i + 1;
			p->used++;
		}
}

static const struct pool_slot *sort_slots;	/* by_answered's array (qsort has no context) */

static int
by_answered(const void *a, const void *b)
{
	int64_t ta = sort_slots[*(const uint32_t *)a].answered;
	int64_t tb = sort_slots[*(const uint32_t *)b].answered;

	return (ta > tb) - (ta < tb);
}

/* The writer's repairs: a name a crash left half-written (odd seq), one that is not a
 * name, or one a slot before it holds is cleared; the index and the recency list (by the
 * times in the file) are built. */
static int
writer_init(struct pool *p)
{
	uint32_t size = 1, n = 0, *order;

	while (size < 2 * p->net.slots)
		size <<= 1;
	if (getrandom(&p->seed, sizeof(p->seed), GRND_NONBLOCK) != (ssize_t)sizeof(p->seed))
		p->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	p->index = calloc(size, sizeof(*p->index));
	p->prev = calloc(p->net.slots, sizeof(*p->prev));
	p->next = calloc(p->net.slots, sizeof(*p->next));
	order = calloc(p->net.slots, sizeof(*order));
	if (p->index == NULL || p->prev == NULL || p->next == NULL || order == NULL) {
		free(order);
		return -1;
	}
	p->index_mask = size - 1;
	for (uint32_t i = 0; i < p->net.slots; i++) {
		struct pool_slot *s = &p->slot[i];

		if ((s->seq & 1) || (s->len != 0 && !name_ok(s->name, s->len)))
			slot_clear(s);
	}
	index_rebuild(p);
	for (uint32_t i = 0; i < p->net.slots; i++)
		if (p->slot[i].len != 0)
			order[n++] = i;
	sort_slots = p->slot;
	qsort(order, n, sizeof(*order), by_answered);
	p->head = p->tail = NONE;
	for (uint32_t k = 0; k < n; k++)
		lru_append(p, order[k]);
	free(order);
	return 0;
}

/*
 * A new, empty state file for want at path, put in place by rename: a daemon that still
 * maps the old one (the other daemon, started with another pool) keeps a whole file, never
 * one truncated under its mapping (a SIGBUS). The new file's descriptor, or -1 with err.
 */
static int
replace_file(const char *path, const struct pool_header *want, size_t len, char *err,
    size_t errlen)
{
	char tmp[4096];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "pool-state %s: the path is too long", path);
		return -1;
	}
	unlink(tmp);		/* a crash's leftover */
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1 || flock(fd, LOCK_EX) == -1 || (errno = posix_fallocate(fd, 0,
	    (off_t)len)) != 0 || pwrite(fd, want, sizeof(*want), 0) != (ssize_t)sizeof(*want) ||
	    rename(tmp, path) == -1) {
		snprintf(err, errlen, "pool-state %s: %s", fd == -1 ? tmp : path, strerror(errno));
		if (fd != -1) {
			unlink(tmp);
			close(fd);
		}
		return -1;
	}
	return fd;
}

int
pool_open(const char *path, const struct pool_net *net, int writer, struct pool **out,
    char *err, size_t errlen)
{
	struct pool_header want;
	struct pool *p;
	struct stat st;
	size_t len = map_size(net->slots);
	void *m;
	int fd, fresh;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->net = *net;
	header_for(&want, net);
	/* The file at path once locked: when the other daemon replaced it while this one
	 * waited for the lock, the one now at path is opened instead (both must map one file). */
	for (int tries = 0;; tries++) {
		struct stat now;

		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd == -1 || flock(fd, LOCK_EX) == -1 || fstat(fd, &st) == -1) {
			snprintf(err, errlen, "pool-state %s: %s", path, strerror(errno));
			goto fail;
		}
		if (tries == 8 || (stat(path, &now) == 0 && now.st_dev == st.st_dev &&
		    now.st_ino == st.st_ino))
			break;
		close(fd);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "pool-state %s: not a regular file", path);
		goto fail;
	}
	/* another user's file, or one others may write, could say anything: refused */
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		snprintf(err, errlen, "pool-state %s: owned by uid %u with mode %03o: it must be "
		    "this daemon's own (uid %u), writable by no one else (0600)", path,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
		goto fail;
	}
	fresh = (size_t)st.st_size != len;
	if (!fresh) {
		struct pool_header have;

		fresh = pread(fd, &have, sizeof(have), 0) != (ssize_t)sizeof(have) ||
		    memcmp(&have, &want, sizeof(want)) != 0;
	}
	/* Another pool, layout or size: start empty. A file just made (empty) is laid out in
	 * place; one with contents is replaced, never truncated: the other daemon may map it. */
	/* the space is allocated now: a full disk is an error here, not a SIGBUS later when
	 * a page of the mapping is first written */
	if (fresh && st.st_size == 0 && ((errno = posix_fallocate(fd, 0, (off_t)len)) != 0 ||
	    pwrite(fd, &want, sizeof(want), 0) != (ssize_t)sizeof(want))) {
		snprintf(err, errlen, "pool-state %s: %s", path, strerror(errno));
		goto fail;
	}
	if (fresh && st.st_size != 0) {
		int nfd = replace_file(path, &want, len, err, errlen);

		if (nfd == -1)
			goto fail;
		flock(fd, LOCK_UN);
		close(fd);
		fd = nfd;
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "pool-state %s: mmap: %s", path, strerror(errno));
		goto fail;
	}
	p->hdr = m;
	p->slot = (struct pool_slot *)(void *)((char *)m + HEADER_SIZE);
	p->maplen = len;
	if (writer && writer_init(p) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!writer)
		for (uint32_t i = 0; i < net->slots; i++)
			__atomic_store_n(&p->slot[i].open, 0, __ATOMIC_RELAXED);
	/* unlock by hand: the mapping holds the open file, so close alone would keep the
	 * lock for as long as the daemon runs */
	flock(fd, LOCK_UN);
	close(fd);
	*out = p;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	pool_close(p);
	return -1;
}

void
pool_close(struct pool *p)
{
	if (p == NULL)
		return;
	if (p->hdr != NULL)
		munmap(p->hdr, p->maplen);
	free(p->index);
	free(p->prev);
	free(p->next);
	free(p);
}

const struct pool_net *
pool_net(const struct pool *p)
{
	return &p->net;
}

uint32_t
pool_used(const struct pool *p)
{
	return p->used;
}

/* Give slot s the name (the seqlock's write side). When it held another name and a
 * connection to it opened meanwhile, nothing changes: -1. */
static int
slot_write(struct pool_slot *s, const char *name, size_t len, int64_t now_s)
{
	uint32_t q = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&s->seq, q + 1, __ATOMIC_SEQ_CST);
	/* the name's bytes are written after the odd count, whatever follows (a seqlock's
	 * writer); and the forwarder counts a connection before it reads the name: seen
	 * here, or it sees the odd count and reads the new name */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (s->len != 0 && __atomic_load_n(&s->open, __ATOMIC_SEQ_CST) != 0) {
		__atomic_store_n(&s->seq, q + 2, __ATOMIC_RELEASE);
		return -1;
	}
	memcpy(s->name, name, len);
	s->len = (uint8_t)len;
	__atomic_store_n(&s->answered, now_s, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, q + 2, __ATOMIC_RELEASE);
	return 0;
}

/* Reuse: from the front of the recency list (answer order, least recent first), the first
 * slot whose name went unanswered long enough and has no connection open. Slots with a
 * connection open are passed over where they are (the list stays in answer order, so
 * the first slot answered too recently ends the walk); at most REUSE_PASS of them, which
 * takes more open connections to distinct old names than max-conns allows by default.
 * So a full pool costs a new name no scan of the slots. Times are whole seconds, cut
 * down: an answer at t.9 is stored as t, so a slot is free only when more than hold_s
 * whole seconds lie between (t + hold_s < now_s): never under hold_s of real time, at
 * most one second over. */
static enum pool_result
reuse(struct pool *p, const char *name, size_t len, int64_t now_s, uint32_t hold_s,
    uint32_t *slot)
{
	uint32_t i = p->head;

	for (int passed = 0; i != NONE && passed < REUSE_PASS; i = p->next[i]) {
		struct pool_slot *s = &p->slot[i];
		char old[DNAME_MAX];
		size_t oldlen = s->len;
		uint32_t *e;

		if (__atomic_load_n(&s->answered, __ATOMIC_RELAXED) >= now_s - (int64_t)hold_s)
			return POOL_FULL;	/* so is every slot after it */
		memcpy(old, s->name, oldlen);
		if (__atomic_load_n(&s->open, __ATOMIC_RELAXED) != 0 ||
		    slot_write(s, name, len, now_s) == -1) {
			passed++;	/* a connection is open to it (or just opened) */
			continue;
		}
		/* the old name's entry goes, the new name's comes (found again: the removal
		 * may have moved entries) */
		e = index_find_slot(p, old, oldlen, i);
		if (e != NULL)
			index_remove(p, e);
		*index_find(p, name, len) = i + 1;
		lru_unlink(p, i);
		lru_append(p, i);
		*slot = i;
		return POOL_REUSED;
	}
	return POOL_FULL;
}

/* slot's name was answered at now_s: its time, and the end of the recency list. */
static void
touch(struct pool *p, uint32_t slot, int64_t now_s)
{
	__atomic_store_n(&p->slot[slot].answered, now_s, __ATOMIC_RELAXED);
	if (p->tail != slot) {
		lru_unlink(p, slot);
		lru_append(p, slot);
	}
}

int
pool_held(struct pool *p, const char *name, size_t len, int64_t now_s, uint32_t *slot)
{
	uint32_t *e = index_find(p, name, len);

	if (*e == 0)
		return 0;
	*slot = *e - 1;
	touch(p, *slot, now_s);
	return 1;
}

enum pool_result
pool_assign(struct pool *p, const char *name, size_t len, int64_t now_s, uint32_t hold_s,
    uint32_t *slot)
{
	uint32_t *e = index_find(p, name, len);

	if (*e != 0) {
		*slot = *e - 1;
		touch(p, *slot, now_s);
		return POOL_HELD;
	}
	while (p->next_free < p->net.slots && p->slot[p->next_free].len != 0)
		p->next_free++;
	if (p->next_free < p->net.slots) {
		*slot = p->next_free;
		slot_write(&p->slot[*slot], name, len, now_s);	/* no name: never refused */
		*e = *slot + 1;
		p->used++;
		lru_append(p, *slot);
		return POOL_NEW;
	}
	return reuse(p, name, len, now_s, hold_s, slot);
}

int
pool_name(const struct pool *p, uint32_t slot, char *buf)
{
	const struct pool_slot *s;

	if (slot >= p->net.slots)
		return -1;
	s = &p->slot[slot];
	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint32_t q = __atomic_load_n(&s->seq, __ATOMIC_SEQ_CST);
		size_t len;

		if (q & 1)
			continue;
		len = s->len;
		if (len > DNAME_MAX)
			len = DNAME_MAX;
		memcpy(buf, s->name, len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != q)
			continue;
		if (!name_ok(buf, len))
			return -1;
		buf[len] = '\0';
		return (int)len;
	}
	return -1;
}

void
pool_conn_open(struct pool *p, uint32_t slot)
{
	if (slot < p->net.slots)
		__atomic_add_fetch(&p->slot[slot].open, 1, __ATOMIC_SEQ_CST);
}

void
pool_conn_close(struct pool *p, uint32_t slot)
{
	uint32_t n;

	if (slot >= p->net.slots)
		return;
	n = __atomic_load_n(&p->slot[slot].open, __ATOMIC_RELAXED);
	while (n > 0 && !__atomic_compare_exchange_n(&p->slot[slot].open, &n, n - 1, 0,
	    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;	/* n reloaded: never below zero */
}
