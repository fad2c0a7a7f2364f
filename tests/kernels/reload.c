/*
 * reload.c: one kernel library in several versions (RELOAD_VERSION), for
 * reloading a library whose file changed (reload_library). Built as
 * libreloadv1..3.so, and as libreloadnd1..2.so with -z nodelete (the
 * dynamic loader never unmaps those, as with C++ unique symbols).
 */
#ifndef RELOAD_VERSION
#error "build with -DRELOAD_VERSION=n"
#endif

/* Called through the PLT (a global function of a -fpic library): a
 * version loaded beside an older one must still call its own. */
int reload_helper(void)
{
	return RELOAD_VERSION;
}

/* 100 * the helper's version + this one's: 202 for version 2, 102 if
 * version 2 called version 1's helper. */
int reload_version(void)
{
	return 100 * reload_helper() + RELOAD_VERSION;
}

/* Sets flag[1] (it runs), returns the version once flag[0] is non-zero:
 * a kernel still running when its file changes. */
int reload_wait(volatile int *flag)
{
	flag[1] = 1;
	while (!flag[0])
		;
	return RELOAD_VERSION;
}

/* Dies of SIGSEGV: the crash report names the library by its path, also
 * when it runs from a private copy. */
int *volatile reload_nowhere; /* NULL */

int reload_crash(void)
{
	*reload_nowhere = RELOAD_VERSION;
	return 0;
}
