/*
 * global_a.c: a library whose symbol a later one uses without linking
 * against it (libglobala.so): AVEO loads kernel libraries RTLD_GLOBAL.
 */
int global_a_value(int x)
{
	return x * 3 + 1;
}
