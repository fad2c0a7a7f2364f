/*
 * version.c: veo_api_version() is the VEO API version this library
 * implements (16, as VEO_API_VERSION) and veo_version_string() names
 * openveo's own version.
 */
#include "testlib.h"

int main(void)
{
	test_init("version");

	CHECK_EQ_I64(VEO_API_VERSION, 16);
	CHECK_EQ_I64(veo_api_version(), 16);
	CHECK_EQ_I64(veo_api_version(), VEO_API_VERSION);

	const char *v = veo_version_string();
	REQUIRE(v != NULL);
	CHECK(v[0] != '\0');
	char want[64];
	snprintf(want, sizeof want, "%d.%d.%d", OPENVEO_VERSION_MAJOR,
	         OPENVEO_VERSION_MINOR, OPENVEO_VERSION_PATCH);
	CHECK_CONTAINS(v, want);
	/* The same string every time (it is a constant, not a buffer). */
	CHECK(strcmp(v, veo_version_string()) == 0);

	return test_done();
}
