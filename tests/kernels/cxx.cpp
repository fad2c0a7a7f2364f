// cxx.cpp: C++ kernels (libcxxkernels.so) with extern "C" entry points.
// They use the C++ standard library and exceptions inside the worker.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
struct PrintsAtExit {
	~PrintsAtExit() { std::cout << "C++ kernel: static destructor\n"; }
};
}

extern "C" {

// Sorts a[0..n) in place (through a std::vector) and returns its sum.
int64_t cxx_sort_sum(int64_t *a, int n)
{
	std::vector<int64_t> v(a, a + n);
	std::sort(v.begin(), v.end());
	std::copy(v.begin(), v.end(), a);
	return std::accumulate(v.begin(), v.end(), int64_t{0});
}

// Throws and catches an exception inside the kernel; returns 2 * x if the
// exception carried x intact.
int cxx_throw_catch(int x)
{
	try {
		throw std::runtime_error(std::to_string(x));
	} catch (const std::exception &e) {
		return 2 * std::stoi(e.what());
	}
}

// Length of the string built by a static object's constructor: proves
// static constructors of a kernel library ran when it was loaded.
static const std::string greeting = std::string("hello from ") + "openveo";
uint64_t cxx_static_len(void)
{
	return greeting.size();
}

// Prints a line through std::cout and one through std::cerr, without
// std::endl or std::flush.
int cxx_print(int n)
{
	std::cout << "C++ kernel: std::cout line " << n << '\n';
	std::cerr << "C++ kernel: std::cerr line " << n << '\n';
	return n;
}

// Builds a function-local static PrintsAtExit: its destructor prints when
// the VE process ends (C++ static destructors run at exit).
int cxx_arm_static_destructor(void)
{
	static PrintsAtExit p;
	(void)p;
	return 1;
}

}
