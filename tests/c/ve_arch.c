/*
 * ve_arch.c: veo_get_ve_arch() reports 1 (openveo behaves as a VE1) for the
 * nodes 0..7 and -1 for any other node number.
 */
#include "testlib.h"

int main(void)
{
	test_init("ve_arch");

	for (int node = 0; node < 8; node++)
		CHECKF(veo_get_ve_arch(node) == 1, "veo_get_ve_arch(%d) = %d, want 1",
		       node, veo_get_ve_arch(node));

	veo_set_error_print(0);
	const int bad[] = { -1, -2, 8, 9, 64, 1000, INT_MAX, INT_MIN };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECKF(veo_get_ve_arch(bad[i]) == -1, "veo_get_ve_arch(%d) = %d, want -1",
		       bad[i], veo_get_ve_arch(bad[i]));

	return test_done();
}
