/*
 * goal.c: recording, printing and writing a benchmark's goals (goal.h).
 */
#include "goal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void goal_add(struct goals *gs, const char *name, double value, const char *op, double limit,
              const char *unit)
{
	struct goal *g;
	int pass;

	if (gs->n >= GOALS_MAX)
		return;
	g = &gs->g[gs->n++];
	if (!strcmp(op, "<="))
		pass = value <= limit;
	else if (!strcmp(op, ">="))
		pass = value >= limit;
	else
		pass = value < limit;
	snprintf(g->name, sizeof g->name, "%s", name);
	g->value = value;
	g->op = op;
	g->limit = limit;
	g->unit = unit;
	g->pass = isfinite(value) && pass;
}

int goals_print_lines(const struct goals *gs)
{
	int passed = 0;

	for (int i = 0; i < gs->n; i++) {
		const struct goal *g = &gs->g[i];

		printf("  %-68s = %8.3g %-2s (goal %s %g) %s\n", g->name, g->value, g->unit, g->op,
		       g->limit, g->pass ? "PASS" : "FAIL");
		passed += g->pass;
	}
	return passed;
}

void goals_json(struct json *j, const struct goals *gs)
{
	json_array(j, "goals");
	for (int i = 0; i < gs->n; i++) {
		const struct goal *g = &gs->g[i];

		json_object(j, NULL);
		json_str(j, "name", g->name);
		json_num(j, "value", g->value);
		json_str(j, "unit", g->unit);
		json_str(j, "op", g->op);
		json_num(j, "limit", g->limit);
		json_bool(j, "pass", g->pass);
		json_end(j);
	}
	json_end(j);
}
