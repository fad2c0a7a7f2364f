/*
 * goal.h: a benchmark's goals, alike in veo_bench and veo_omp (bench/run's
 * summary reads both): a figure against its limit, judged when it is
 * recorded (a figure that is not finite, not measured, fails), printed one
 * a line and written into the JSON.
 */
#ifndef OPENVEO_BENCH_GOAL_H
#define OPENVEO_BENCH_GOAL_H

#include "json.h"

#define GOALS_MAX 64

struct goal {
	char name[112];
	double value;
	const char *op;   /* "<=", ">=" or "<" */
	double limit;
	const char *unit;
	int pass;
};

struct goals {
	struct goal g[GOALS_MAX];
	int n;
};

/* Records the goal `name`: value op limit, in unit (string literals). */
void goal_add(struct goals *gs, const char *name, double value, const char *op, double limit,
              const char *unit);
/* Prints each goal on a line, PASS or FAIL; returns how many passed. */
int goals_print_lines(const struct goals *gs);
/* The "goals" array of the JSON document. */
void goals_json(struct json *j, const struct goals *gs);

#endif
