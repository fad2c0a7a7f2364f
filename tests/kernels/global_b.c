/*
 * global_b.c: uses global_a_value from libglobala.so, loaded earlier into
 * the same VE process, with no link to it (libglobalb.so).
 */
int global_a_value(int x);

int global_b_calls_a(int x)
{
	return global_a_value(x) + 100;
}
