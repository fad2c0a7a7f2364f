/*
 * ftrace.c: libveftrace, for kernels that mark regions for NEC's ftrace
 * profiler. The host has no ftrace: the region calls are accepted and
 * measure nothing, so code and Makefiles that use them build and run
 * unchanged (profile with perf or gprof on the host instead).
 */

void ftrace_region_begin(const char *name);
void ftrace_region_end(const char *name);

void ftrace_region_begin(const char *name)
{
	(void)name;
}

void ftrace_region_end(const char *name)
{
	(void)name;
}
