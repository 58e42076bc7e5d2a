/* fuzz_pool.c: libFuzzer target for common/pool.c's reading of a state file it did not
 * write (any bytes in the slots); aborts when an invariant breaks. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dname.h"
#include "pool.h"

#include "fuzz.h"

#define HEADER 4096			/* pool.c's header page */

static int
is_name(const char *s, int len)
{
	if (len < 1 || len > DNAME_MAX || (int)strlen(s) != len)
		return 0;
	for (int i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct pool_net net;
	struct pool *p, *w;
	struct stat st;
	char err[512], buf[DNAME_MAX + 1], names[6][DNAME_MAX + 1];
	uint32_t slot;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/dev/shm/gatehouse-fuzz-pool-%d", (int)getpid());
	CHECK(pool_net_parse("10.9.0.0/29", NULL, &net, err, sizeof(err)) == 0);
	unlink(path);
	CHECK(pool_open(path, &net, 1, &p, err, sizeof(err)) == 0);	/* a valid header */
	pool_close(p);
	CHECK(stat(path, &st) == 0 && st.st_size > HEADER);
	f = fopen(path, "r+");
	CHECK(f != NULL);
	CHECK(fseek(f, HEADER, SEEK_SET) == 0);
	fwrite(data, 1, size < (size_t)st.st_size - HEADER ? size : (size_t)st.st_size - HEADER, f);
	fclose(f);
	/* the forwarder's view: every slot is a name or none, never a broken one */
	CHECK(pool_open(path, &net, 0, &p, err, sizeof(err)) == 0);
	for (uint32_t i = 0; i < net.slots; i++) {
		int n = pool_name(p, i, buf);

		CHECK(n == -1 || is_name(buf, n));
	}
	/* the resolver repairs it; then no two slots hold one name, and a name it assigns
	 * is the one the forwarder reads */
	CHECK(pool_open(path, &net, 1, &w, err, sizeof(err)) == 0);
	CHECK(pool_assign(w, "x.fuzz", 6, 1, 1, &slot) != POOL_FULL || pool_used(w) == net.slots);
	for (uint32_t i = 0; i < net.slots; i++) {
		names[i][0] = '\0';
		if (pool_name(p, i, names[i]) < 0)
			continue;
		for (uint32_t j = 0; j < i; j++)
			CHECK(strcmp(names[i], names[j]) != 0);
	}
	if (pool_assign(w, "y.fuzz", 6, 100000, 1, &slot) != POOL_FULL)
		CHECK(pool_name(p, slot, buf) == 6 && strcmp(buf, "y.fuzz") == 0);
	pool_close(w);
	pool_close(p);
	unlink(path);
	return 0;
}
