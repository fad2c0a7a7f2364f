/*
 * mk_veorun_static: links kernel objects (and libraries, and flags such as
 * -fopenmp) with libveorun.a into a worker of one's own, for
 * veo_proc_create_static. Both forms in use are accepted:
 *
 *   mk_veorun_static -o OUTPUT OBJECTS...   (VEO's documentation)
 *   mk_veorun_static OUTPUT OBJECTS...      (AVEO, py-veo)
 *
 * The compiler is $CC (default cc), run directly: no shell sees the
 * arguments. The worker is linked with -rdynamic so that veo_get_sym with
 * handle 0 finds the kernels.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr,
	        "usage: mk_veorun_static [-o] OUTPUT OBJECT... [-lLIB...] [FLAGS...]\n"
	        "Links kernel objects into a VE worker for veo_proc_create_static.\n"
	        "The compiler is $CC (default: cc).\n");
	return 2;
}

static int is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* libveorun.a: next to this program (Python package), at the installed
 * relative place, or in the build tree. */
static int find_archive(char *out, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);

	if (len > 0) {
		char *slash;

		self[len] = '\0';
		if ((slash = strrchr(self, '/')))
			*slash = '\0';
		if ((size_t)snprintf(out, n, "%s/libveorun.a", self) < n && is_file(out))
			return 0;
		if ((size_t)snprintf(out, n, "%s/%s/libveorun.a", self, OPENVEO_ARCHIVE_REL) < n &&
		    is_file(out))
			return 0;
	}
	snprintf(out, n, "%s", OPENVEO_BUILD_ARCHIVE);
	return is_file(out) ? 0 : -1;
}

int main(int argc, char **argv)
{
	char archive[PATH_MAX];
	const char *cc = getenv("CC");
	char **args;
	int first = 1, n = 0, status;
	pid_t pid;

	if (argc < 3)
		return usage();
	if (strcmp(argv[1], "-o") == 0) {
		if (argc < 4)
			return usage();
		first = 2;
	}
	if (find_archive(archive, sizeof archive) != 0) {
		fprintf(stderr, "mk_veorun_static: cannot find libveorun.a\n");
		return 1;
	}
	if (!cc || !*cc)
		cc = "cc";

	args = calloc((size_t)argc + 16, sizeof *args);
	if (!args)
		return 1;
	args[n++] = (char *)cc;
	args[n++] = "-o";
	args[n++] = argv[first];
	for (int i = first + 1; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = archive;
	if (OPENVEO_SANITIZE[0])
		args[n++] = "-fsanitize=" OPENVEO_SANITIZE;
	args[n++] = "-rdynamic";
	args[n++] = "-lffi";
	args[n++] = "-ldl";
	args[n++] = "-lpthread";
	args[n++] = "-lm";
	args[n] = NULL;

	pid = fork();
	if (pid < 0) {
		perror("mk_veorun_static: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(cc, args);
		fprintf(stderr, "mk_veorun_static: cannot run %s: %s\n", cc, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	free(args);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 1;
}
