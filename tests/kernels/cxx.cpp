// cxx.cpp: C++ kernels (libcxxkernels.so) with extern "C" entry points.
// They use the C++ standard library and exceptions inside the worker.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

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

}
