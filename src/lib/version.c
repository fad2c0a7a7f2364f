/*
 * version.c: what this libveo is: its version, the VEO API version it
 * implements, and the architecture of a VE node.
 */
#include "error.h"
#include "proc.h"
#include "ve_offload.h"

const char *veo_version_string(void)
{
	return "openveo " OPENVEO_VERSION_STRING;
}

int veo_api_version(void)
{
	return VEO_API_VERSION;
}

int veo_get_ve_arch(int venode)
{
	if (venode < 0 || venode >= VEO_MAX_NODES)
		return error_set("VE node %d does not exist", venode);
	return 1;
}
