/*
 * json.h: a small streaming JSON writer. Values go straight to a FILE as
 * they come, indented two spaces a level, with the commas between them.
 * It keeps track of commas and brackets, nothing more: the caller gives a
 * key to every member of an object and none to the items of an array.
 *
 *     struct json j;
 *
 *     json_start(&j, f);
 *     json_object(&j, NULL);         {
 *     json_int(&j, "n", 3);            "n": 3,
 *     json_array(&j, "points");        "points": [
 *     json_num(&j, NULL, 1.5);           1.5
 *     json_end(&j);                    ]
 *     json_end(&j);                  }
 */
#ifndef OPENVEO_BENCH_JSON_H
#define OPENVEO_BENCH_JSON_H

#include <stdio.h>

#define JSON_MAX_DEPTH 16 /* objects and arrays open at once */

struct json {
	FILE *f;
	int depth;                  /* of the innermost open value; -1 before the outermost */
	int first[JSON_MAX_DEPTH];  /* nothing written yet at this depth */
	char close[JSON_MAX_DEPTH]; /* the bracket that closes this depth */
};

/* Starts a document on f, which stays the caller's to close. */
void json_start(struct json *j, FILE *f);

/* Open an object or an array: `key` in an object, NULL in an array and
 * for the outermost value. json_end closes the innermost one, and ends
 * the document with a newline once the outermost is closed. */
void json_object(struct json *j, const char *key);
void json_array(struct json *j, const char *key);
void json_end(struct json *j);

/* A number as %.6g, null when it is not finite (NAN: not measured). */
void json_num(struct json *j, const char *key, double v);
void json_int(struct json *j, const char *key, long long v);
/* A string, with " and \ escaped; control characters are left out. */
void json_str(struct json *j, const char *key, const char *s);
void json_bool(struct json *j, const char *key, int v);

/* Opens path for a benchmark's document and starts it: the outermost
 * object, with the members every one starts with (the benchmark's name,
 * openveo's version, the date (UTC), the machine: host name, kernel, CPUs;
 * whether it was a quick run). Returns the file, for the caller to close
 * once the document is ended, or NULL, having said why on stderr. */
FILE *json_document(struct json *j, const char *path, const char *benchmark, int quick);

#endif
