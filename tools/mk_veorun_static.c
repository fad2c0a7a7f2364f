/*
 * mk_veorun_static: links kernels (object files and static archives) with
 * libveorun.a into a worker of one's own, for veo_proc_create_static. It
 * takes the command line of NEC's mk_veorun_static, so a VE Makefile works
 * with only the compiler's name changed:
 *
 *   mk_veorun_static -o OUTPUT KERNEL... [OPTION...]   (VEO's documentation)
 *   mk_veorun_static OUTPUT KERNEL... [OPTION...]      (AVEO, py-veo)
 *
 * veo_get_sym(proc, 0, name) finds every global symbol of every KERNEL. NEC's
 * tool generates a table of them; here the worker is linked with -rdynamic
 * and searches its own dynamic symbols, and archives are linked whole
 * (--whole-archive), so that a member nothing references is in the worker
 * too. Libraries given with -l or --link-nosym are linked as usual: only
 * the members the kernels need.
 *
 * C++ and Fortran kernels need their runtimes, whichever compiler links:
 * libstdc++ and libgfortran are added with --as-needed, so a worker depends
 * on one only when a kernel uses it (a runtime this compiler cannot find
 * is left out). The compiler is $CC (default cc), split into words like a
 * command line and run directly: no shell sees any argument.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PROG "mk_veorun_static"

/* The usage text: the options NEC's tool takes, and what they do here. */
static const char usage_text[] =
	"usage: " PROG " -o OUTPUT KERNEL... [OPTION...]\n"
	"       " PROG " OUTPUT KERNEL... [OPTION...]\n"
	"\n"
	"Links kernels into a VE worker of one's own: start it with\n"
	"veo_proc_create_static(node, OUTPUT); veo_get_sym(proc, 0, name) finds\n"
	"every global function and variable of every KERNEL. A KERNEL is an\n"
	"object file (C, C++, Fortran) or a static archive (.a), whose members\n"
	"are all linked, whether something uses them or not.\n"
	"\n"
	"  -o OUTPUT             the worker to write (else the first file named)\n"
	"  -fopenmp              OpenMP kernels (-fopenmp=LIB, -mparallel: the same)\n"
	"  -lLIB, -l LIB         a library the kernels need, e.g. -lm; linked as\n"
	"                        usual (only the archive members they use)\n"
	"  -LDIR, -L DIR         where -l looks for libraries\n"
	"  -Wl,OPT, -Xlinker OPT an option for the linker\n"
	"  --link-nosym=F[,F...] libraries or objects linked like -l, not whole\n"
	"  -v                    print the link command; the compiler runs with -v\n"
	"  -ftrace               accepted and ignored (NEC's profiler)\n"
	"  -traceback[=verbose]  accepted and ignored (the worker reports a\n"
	"                        backtrace of a crashed kernel by itself)\n"
	"  --                    everything after it is a KERNEL\n"
	"  -h, --help            this text\n"
	"  any other option      passed to the link (e.g. -pthread, -static-libgcc)\n"
	"\n"
	"C++ and Fortran kernels need nothing more: libstdc++ and libgfortran are\n"
	"linked as needed (--as-needed), so the worker depends on a runtime only\n"
	"when a kernel uses it. The compiler that links is $CC (default: cc),\n"
	"split into words like a command line (CC=\"ccache gcc\") and run without\n"
	"a shell.\n";

/* ---- small helpers ---- */

static void fail_exit(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* A usage error: what was wrong, then where to read more. */
static void usage_exit(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: " PROG " -o OUTPUT KERNEL... [OPTION...] "
	        "(" PROG " --help tells more)\n");
	exit(2);
}

/* A growing NULL-terminated list of strings (an argv). */
struct list {
	char **v;
	size_t n, cap;
};

static void list_add(struct list *l, const char *s)
{
	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, cap * sizeof *v);

		if (!v)
			fail_exit("out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (char *)s;
	l->v[l->n] = NULL;
}

static void list_add_all(struct list *to, const struct list *from)
{
	for (size_t i = 0; i < from->n; i++)
		list_add(to, from->v[i]);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		fail_exit("out of memory");
	return d;
}

static char *prefixed(const char *prefix, const char *s)
{
	size_t n = strlen(prefix);
	char *p = malloc(n + strlen(s) + 1);

	if (!p)
		fail_exit("out of memory");
	memcpy(p, prefix, n);
	strcpy(p + n, s);
	return p;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Splits a command line into words as a POSIX shell would, without
 * expanding anything: blanks separate words, '...' and "..." quote,
 * a backslash escapes the next character. Returns -1 on an unclosed quote.
 */
static int split_words(const char *s, struct list *out)
{
	char *buf = malloc(strlen(s) + 1);

	if (!buf)
		fail_exit("out of memory");
	while (*s) {
		size_t n = 0;
		int word = 0;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
			word = 1;
			if (*s == '\'') {
				const char *end = strchr(s + 1, '\'');

				if (!end)
					goto unclosed;
				memcpy(buf + n, s + 1, (size_t)(end - s - 1));
				n += (size_t)(end - s - 1);
				s = end + 1;
			} else if (*s == '"') {
				for (s++; *s && *s != '"'; s++) {
					if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
						s++;
					buf[n++] = *s;
				}
				if (!*s)
					goto unclosed;
				s++;
			} else {
				if (*s == '\\' && s[1])
					s++;
				buf[n++] = *s++;
			}
		}
		if (word) {
			buf[n] = '\0';
			list_add(out, xstrdup(buf));
		}
	}
	free(buf);
	return 0;
unclosed:
	free(buf);
	return -1;
}

/* Prints a command so that it could be pasted into a shell. */
static void print_command(const struct list *cmd)
{
	fprintf(stderr, PROG ": running:");
	for (size_t i = 0; i < cmd->n; i++) {
		const char *a = cmd->v[i];

		if (*a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		                    "0123456789_-+=./,:@%") == strlen(a)) {
			fprintf(stderr, " %s", a);
			continue;
		}
		fputs(" '", stderr);
		for (; *a; a++) {
			if (*a == '\'')
				fputs("'\\''", stderr);
			else
				fputc(*a, stderr);
		}
		fputc('\'', stderr);
	}
	fputc('\n', stderr);
}

/*
 * Runs cmd (no shell) and waits for it. With out_fd >= 0 its stdout goes
 * there and its stderr to /dev/null. Returns its wait status, or -1 with a
 * message when it could not be started.
 */
static int run(const struct list *cmd, int out_fd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int err, status;

	if (posix_spawn_file_actions_init(&fa) != 0)
		fail_exit("out of memory");
	if (out_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	err = posix_spawnp(&pid, cmd->v[0], &fa, NULL, cmd->v, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0) {
		fprintf(stderr, PROG ": cannot run the compiler %s: %s (set $CC to the "
		        "compiler that links, e.g. CC=gcc)\n", cmd->v[0], strerror(err));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			fail_exit("waitpid: %s", strerror(errno));
	}
	return status;
}

/* ---- what was asked for ---- */

struct request {
	const char *output;
	struct list kernels; /* objects and archives; all their symbols exported */
	struct list nosym;   /* --link-nosym: linked as the linker picks members */
	struct list flags;   /* -l, -L, -Wl, and other link options, in order */
	int verbose;
};

/* The argument of an option that takes the next word (-o FILE, -l LIB). */
static const char *next_arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		usage_exit("%s needs an argument", argv[*i]);
	return argv[++*i];
}

/* opt is name or name=VALUE. */
static int is_option(const char *opt, const char *name)
{
	size_t n = strlen(name);

	return strncmp(opt, name, n) == 0 && (opt[n] == '\0' || opt[n] == '=');
}

static void parse(int argc, char **argv, struct request *rq)
{
	struct list files = { 0 };
	int only_files = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (only_files || a[0] != '-' || a[1] == '\0') {
			list_add(&files, a);
		} else if (strcmp(a, "--") == 0) {
			only_files = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			exit(0);
		} else if (strncmp(a, "-o", 2) == 0) {
			if (rq->output)
				usage_exit("-o given twice");
			rq->output = a[2] ? a + 2 : next_arg(argc, argv, &i);
		} else if (strcmp(a, "-v") == 0) {
			rq->verbose = 1;
		} else if (is_option(a, "-fopenmp")) {
			list_add(&rq->flags, a); /* the link adds the OpenMP runtime */
		} else if (strcmp(a, "-mparallel") == 0) {
			/* NEC's automatic parallelisation runs on the OpenMP runtime. */
			list_add(&rq->flags, "-fopenmp");
		} else if (strcmp(a, "-ftrace") == 0) {
			fprintf(stderr, PROG ": note: -ftrace ignored (NEC's profiler; "
			        "there is no ftrace.out on the host)\n");
		} else if (is_option(a, "-traceback")) {
			/* The worker's crash report has the backtrace. */
		} else if (strncmp(a, "--link-nosym=", 13) == 0) {
			char *names = xstrdup(a + 13), *save = NULL;

			for (char *f = strtok_r(names, ",", &save); f; f = strtok_r(NULL, ",", &save))
				list_add(&rq->nosym, f);
		} else if (strcmp(a, "-l") == 0 || strcmp(a, "-L") == 0 ||
		           strcmp(a, "-Xlinker") == 0 || strcmp(a, "-u") == 0 ||
		           strcmp(a, "-z") == 0 || strcmp(a, "-T") == 0) {
			/* The options of the compiler that take the next word. */
			list_add(&rq->flags, a);
			list_add(&rq->flags, next_arg(argc, argv, &i));
		} else {
			/* -lLIB, -LDIR, -Wl,..., and any other option of the compiler. */
			list_add(&rq->flags, a);
		}
	}

	if (!rq->output) {
		if (files.n == 0)
			usage_exit("no output and no kernels given");
		rq->output = files.v[0];
		for (size_t i = 1; i < files.n; i++)
			list_add(&rq->kernels, files.v[i]);
	} else {
		list_add_all(&rq->kernels, &files);
	}
	if (rq->kernels.n == 0)
		usage_exit("no kernels given (object files or archives to link into %s)",
		           rq->output);
	free(files.v);
}

/* ---- the inputs ---- */

enum kind { INPUT_ARCHIVE, INPUT_OTHER };

/* e_machine of an ELF header (at byte 18 in both classes), in its byte order. */
static unsigned elf_machine(const unsigned char *h)
{
	return h[EI_DATA] == ELFDATA2MSB ? (unsigned)h[18] << 8 | h[19]
	                                 : (unsigned)h[19] << 8 | h[18];
}

/* This program's ELF class and machine: the kernels must be the same. */
static void host_machine(unsigned *elf_class, unsigned *machine)
{
	unsigned char h[20];
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	*elf_class = *machine = 0;
	if (fd < 0)
		return;
	if (read(fd, h, sizeof h) == (ssize_t)sizeof h && memcmp(h, ELFMAG, SELFMAG) == 0) {
		*elf_class = h[EI_CLASS];
		*machine = elf_machine(h);
	}
	close(fd);
}

#ifndef EM_VE
#define EM_VE 251
#endif

/*
 * Checks that an input can be linked, with a message that says what is
 * wrong: missing or unreadable, a directory, an archive (by its name) that
 * is no archive, an object of another machine (the VE's own, from ncc),
 * something named .o that is no object. Anything else (a shared library,
 * an LLVM bitcode object, a linker script) is left to the linker.
 */
static enum kind check_input(const char *path, const char *what)
{
	unsigned char h[20];
	unsigned host_class, host_mach, elf_class, mach;
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fail_exit("cannot open %s '%s': %s", what, path, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		fail_exit("%s '%s' is a directory, not an object file or archive", what, path);
	n = read(fd, h, sizeof h);
	if (n < 0)
		fail_exit("cannot read %s '%s': %s", what, path, strerror(errno));
	close(fd);

	if (n >= 8 && (memcmp(h, "!<arch>\n", 8) == 0 || memcmp(h, "!<thin>\n", 8) == 0))
		return INPUT_ARCHIVE;
	if (n < (ssize_t)sizeof h || memcmp(h, ELFMAG, SELFMAG) != 0) {
		if (ends_with(path, ".a"))
			fail_exit("%s '%s' is not an archive: it does not begin with "
			          "\"!<arch>\" (make archives with ar rcs)", what, path);
		if (ends_with(path, ".o"))
			fail_exit("%s '%s' is not an object file: it has no ELF header", what, path);
		return INPUT_OTHER;
	}
	elf_class = h[EI_CLASS];
	mach = elf_machine(h);
	host_machine(&host_class, &host_mach);
	if (mach == EM_VE && host_mach != EM_VE)
		fail_exit("%s '%s' was compiled for the NEC Vector Engine (ncc, nc++, "
		          "nfort); openveo's kernels run on this host: compile it with "
		          "cc, c++ or gfortran", what, path);
	if (host_mach && (mach != host_mach || elf_class != host_class))
		fail_exit("%s '%s' is for another machine (ELF machine %u, class %u; "
		          "this host's: machine %u, class %u)", what, path, mach,
		          elf_class, host_mach, host_class);
	return INPUT_OTHER;
}

/* ---- what the link needs besides the kernels ---- */

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

/* Whether the compiler finds library file `name` (cc -print-file-name
 * answers a path when it does, the bare name when not). */
static int compiler_has(const struct list *cc, const char *name)
{
	char opt[64], answer[PATH_MAX];
	struct list cmd = { 0 };
	int fds[2], status;
	size_t got = 0;
	ssize_t n;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return 0;
	snprintf(opt, sizeof opt, "-print-file-name=%s", name);
	list_add_all(&cmd, cc);
	list_add(&cmd, opt);
	status = run(&cmd, fds[1]);
	close(fds[1]);
	while (got < sizeof answer - 1 &&
	       ((n = read(fds[0], answer + got, sizeof answer - 1 - got)) > 0 ||
	        (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	close(fds[0]);
	free(cmd.v);
	if (status == -1)
		exit(1); /* the compiler cannot run: run() said so */
	answer[got] = '\0';
	answer[strcspn(answer, "\n")] = '\0';
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && strchr(answer, '/') &&
	       is_file(answer);
}

/* The same file (a worker written over one of its kernels)? */
static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int main(int argc, char **argv)
{
	/* Static: the program ends without freeing them, and a leak checker
	 * (the sanitizer builds) sees them still reachable. */
	static struct request rq;
	static struct list cc, cmd;
	static char archive[PATH_MAX];
	const char *cc_env = getenv("CC");
	int has_cxx, has_fortran, status;

	parse(argc, argv, &rq);

	if (cc_env && split_words(cc_env, &cc) != 0)
		fail_exit("$CC has an unclosed quote: %s", cc_env);
	if (cc.n == 0)
		list_add(&cc, "cc");

	for (size_t i = 0; i < rq.kernels.n; i++) {
		if (same_file(rq.output, rq.kernels.v[i]))
			fail_exit("the output '%s' is the kernel '%s': give the worker "
			          "another name", rq.output, rq.kernels.v[i]);
	}
	if (find_archive(archive, sizeof archive) != 0)
		fail_exit("cannot find libveorun.a (looked next to this program and at %s)",
		          OPENVEO_BUILD_ARCHIVE);

	/* cc -o OUTPUT KERNELS (archives whole) NOSYM FLAGS libveorun.a RUNTIMES */
	list_add_all(&cmd, &cc);
	list_add(&cmd, "-o");
	list_add(&cmd, rq.output);
	if (rq.verbose)
		list_add(&cmd, "-v");
	for (size_t i = 0; i < rq.kernels.n; i++) {
		const char *k = rq.kernels.v[i];
		enum kind kind = check_input(k, "kernel");

		/* The compiler would take a name after "--" that begins with
		 * '-' for an option. */
		if (k[0] == '-')
			k = prefixed("./", k);
		if (kind == INPUT_ARCHIVE) {
			list_add(&cmd, "-Wl,--whole-archive");
			list_add(&cmd, k);
			list_add(&cmd, "-Wl,--no-whole-archive");
		} else {
			list_add(&cmd, k);
		}
	}
	for (size_t i = 0; i < rq.nosym.n; i++) {
		if (rq.nosym.v[i][0] != '-')
			check_input(rq.nosym.v[i], "--link-nosym file");
		list_add(&cmd, rq.nosym.v[i]);
	}
	list_add_all(&cmd, &rq.flags);
	list_add(&cmd, archive);
	if (OPENVEO_SANITIZE[0])
		list_add(&cmd, "-fsanitize=" OPENVEO_SANITIZE);
	list_add(&cmd, "-rdynamic");
	has_cxx = compiler_has(&cc, "libstdc++.so");
	has_fortran = compiler_has(&cc, "libgfortran.so");
	if (has_cxx || has_fortran) {
		list_add(&cmd, "-Wl,--push-state,--as-needed");
		if (has_cxx)
			list_add(&cmd, "-lstdc++");
		if (has_fortran)
			list_add(&cmd, "-lgfortran");
		list_add(&cmd, "-Wl,--pop-state");
	}
	list_add(&cmd, "-lffi");
	list_add(&cmd, "-ldl");
	list_add(&cmd, "-lpthread");
	list_add(&cmd, "-lm");

	if (rq.verbose)
		print_command(&cmd);
	status = run(&cmd, -1);
	if (status == -1)
		return 1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			fprintf(stderr, PROG ": linking %s failed: %s exited with status %d "
			        "(its messages are above)\n", rq.output, cc.v[0],
			        WEXITSTATUS(status));
		else
			fprintf(stderr, PROG ": linking %s failed: %s was killed by signal %d\n",
			        rq.output, cc.v[0], WTERMSIG(status));
		if (!has_cxx || !has_fortran)
			fprintf(stderr, PROG ": note: %s does not find %s, which %s kernels "
			        "need\n", cc.v[0],
			        !has_cxx && !has_fortran ? "libstdc++.so and libgfortran.so"
			        : !has_cxx ? "libstdc++.so" : "libgfortran.so",
			        !has_cxx && !has_fortran ? "C++ and Fortran"
			        : !has_cxx ? "C++" : "Fortran");
		return 1;
	}
	if (rq.verbose)
		fprintf(stderr, PROG ": created %s\n", rq.output);
	return 0;
}
