/*
 * error.h: how libveo reports a failure: the calling thread's last error
 * (veo_last_error, like dlerror), printed to stderr unless silenced.
 */
#ifndef OPENVEO_ERROR_H
#define OPENVEO_ERROR_H

/* Records the calling thread's last error and prints it unless silenced.
 * Returns -1 so that failure paths can `return error_set(...)`. */
int error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
