/*
 * json.c: the small JSON writer of json.h. Every value starts with the
 * comma that separates it from the one before, if any, a new line and its
 * indent, then its key inside an object.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <ve_offload.h>

void json_start(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = -1;
}

/* What comes before a value: comma, new line, indent, key. */
static void json_key(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = 0;
	fprintf(j->f, "\n%*s", 2 * j->depth, "");
	if (key)
		fprintf(j->f, "\"%s\": ", key);
}

static void json_open(struct json *j, const char *key, char open, char close)
{
	if (j->depth >= 0) /* not the outermost value */
		json_key(j, key);
	fputc(open, j->f);
	j->first[++j->depth] = 1;
	j->close[j->depth] = close;
}

void json_object(struct json *j, const char *key)
{
	json_open(j, key, '{', '}');
}

void json_array(struct json *j, const char *key)
{
	json_open(j, key, '[', ']');
}

void json_end(struct json *j)
{
	char close = j->close[j->depth--];

	/* After the outermost value the width is -2, which printf takes as
	 * 2, left-justified: that bracket closes two spaces in, as it always
	 * has in veo_bench.json. */
	fprintf(j->f, "\n%*s%c", 2 * j->depth, "", close);
	if (j->depth < 0)
		fputc('\n', j->f);
}

void json_num(struct json *j, const char *key, double v)
{
	json_key(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void json_int(struct json *j, const char *key, long long v)
{
	json_key(j, key);
	fprintf(j->f, "%lld", v);
}

void json_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	fputc('"', j->f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', j->f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, j->f);
	}
	fputc('"', j->f);
}

void json_bool(struct json *j, const char *key, int v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

FILE *json_document(struct json *j, const char *path, const char *benchmark, int quick)
{
	FILE *f = fopen(path, "w");
	struct utsname u;
	time_t now = time(NULL);
	char when[32];

	if (!f) {
		fprintf(stderr, "%s: cannot write %s: %s\n", benchmark, path, strerror(errno));
		return NULL;
	}
	json_start(j, f);
	json_object(j, NULL);
	uname(&u);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_str(j, "benchmark", benchmark);
	json_str(j, "openveo", veo_version_string());
	json_str(j, "date", when);
	json_str(j, "host", u.nodename);
	json_str(j, "kernel", u.release);
	json_int(j, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
	json_int(j, "quick", quick);
	return f;
}
