/*
 * elfsyms.c: the functions a kernel library's file exports, read from its
 * ELF dynamic symbol table (.dynsym), so that dir(lib) and tab completion
 * offer the kernels before they were looked up. Only the file is read;
 * nothing asks the worker. A file that is not a readable ELF object gives
 * an empty list: dir() must not fail.
 */
#include "module.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

/* Files larger than this are not looked at (dir() stays fast). */
#define ELF_MAX_BYTES ((uint64_t)256 << 20)

/* Is [off, off + len) inside a file of `size` bytes? */
static int
in_file(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

/* Appends to `names` the exported function names of the ELF64 image
 * (map, size). 0, or -1 with an exception set (out of memory only). */
static int
dynsym_functions(const unsigned char *map, size_t size, PyObject *names)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;

	if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff % 8 != 0 ||
	    !in_file(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), size))
		return 0;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(map + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_entsize != sizeof(Elf64_Sym) ||
		    sh[i].sh_link >= eh->e_shnum || sh[i].sh_offset % 8 != 0 ||
		    !in_file(sh[i].sh_offset, sh[i].sh_size, size))
			continue;
		const Elf64_Shdr *strs = &sh[sh[i].sh_link];
		if (!in_file(strs->sh_offset, strs->sh_size, size))
			continue;
		const char *str = (const char *)map + strs->sh_offset;
		const Elf64_Sym *sym = (const Elf64_Sym *)(map + sh[i].sh_offset);
		size_t n = sh[i].sh_size / sizeof *sym;
		for (size_t k = 0; k < n; k++) {
			int type = ELF64_ST_TYPE(sym[k].st_info);
			int bind = ELF64_ST_BIND(sym[k].st_info);
			int vis = ELF64_ST_VISIBILITY(sym[k].st_other);
			if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym[k].st_shndx == SHN_UNDEF ||
			    (bind != STB_GLOBAL && bind != STB_WEAK) ||
			    (vis != STV_DEFAULT && vis != STV_PROTECTED) ||
			    sym[k].st_name >= strs->sh_size)
				continue;
			const char *name = str + sym[k].st_name;
			size_t len = strnlen(name, strs->sh_size - sym[k].st_name);
			if (len == 0 || len == strs->sh_size - sym[k].st_name ||
			    strcmp(name, "_init") == 0 || strcmp(name, "_fini") == 0)
				continue; /* unterminated, or the loader's own */
			PyObject *s = PyUnicode_DecodeUTF8(name, (Py_ssize_t)len, "replace");
			if (!s || PySet_Add(names, s) < 0) {
				Py_XDECREF(s);
				return -1;
			}
			Py_DECREF(s);
		}
	}
	return 0;
}

/* The whole file (read, not mapped: a file truncated while it is read
 * must not raise SIGBUS), or NULL. */
static unsigned char *
read_file(const char *path, size_t *size)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= ELF_MAX_BYTES)
		buf = PyMem_RawMalloc((size_t)st.st_size);
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*size = got;
	return buf;
}

PyObject *
elf_function_names(const char *path)
{
	PyObject *names = PySet_New(NULL), *list;
	unsigned char *image;
	size_t size = 0;
	int rc = 0;

	if (!names)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	image = read_file(path, &size);
	Py_END_ALLOW_THREADS
	if (image) {
		rc = dynsym_functions(image, size, names);
		PyMem_RawFree(image);
	}
	if (rc < 0) {
		Py_DECREF(names);
		return NULL;
	}
	list = PySequence_List(names);
	Py_DECREF(names);
	if (list && PyList_Sort(list) < 0)
		Py_CLEAR(list);
	return list;
}
