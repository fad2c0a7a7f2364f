/*
 * output.c: kernels that print (liboutputkernels.so), to see that what a
 * kernel writes to stdout and stderr reaches the host's files, in order,
 * without the kernel calling fflush; and exit handlers that print when
 * the VE process ends (veo_proc_destroy). No kernel here flushes.
 */
#include <stdio.h>
#include <stdlib.h>

/* One line to stdout, one to stderr. */
int print_lines(int n)
{
	printf("C kernel: printf line %d\n", n);
	fprintf(stderr, "C kernel: fprintf(stderr) line %d\n", n);
	return n;
}

static int armed;

static void on_exit_print(void)
{
	printf("C kernel: atexit handler\n");
	fprintf(stderr, "C kernel: atexit handler (stderr)\n");
}

/* The destructor prints only once a test asked for it. */
__attribute__((destructor)) static void on_unload_print(void)
{
	if (armed)
		printf("C kernel: library destructor\n");
}

/* Registers the atexit handler and arms the destructor. */
int arm_exit_handlers(void)
{
	armed = 1;
	return atexit(on_exit_print);
}

/* n bytes to stdout, in lines of 64 ("0123...xyz" patterns ending in
 * '\n'), through stdio: a large output (tests of pipes that fill). */
long print_bytes(long n)
{
	static const char line[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:\n";

	for (long i = 0; i < n; i += 64)
		fwrite(line, 1, (size_t)(n - i < 64 ? n - i : 64), stdout);
	return n;
}
