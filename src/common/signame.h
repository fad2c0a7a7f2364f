/*
 * signame.h: the name of a signal ("SIGSEGV"), as both sides print it: the
 * worker in its crash reports, the host when it describes a worker's end.
 * Async-signal-safe (a table lookup). "" for a signal without a name here.
 */
#ifndef OPENVEO_SIGNAME_H
#define OPENVEO_SIGNAME_H

#include <signal.h>

static inline const char *vp_signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS:  return "SIGBUS";
	case SIGFPE:  return "SIGFPE";
	case SIGILL:  return "SIGILL";
	case SIGABRT: return "SIGABRT";
	case SIGTRAP: return "SIGTRAP";
	case SIGSYS:  return "SIGSYS";
	case SIGKILL: return "SIGKILL";
	case SIGTERM: return "SIGTERM";
	case SIGINT:  return "SIGINT";
	case SIGQUIT: return "SIGQUIT";
	case SIGHUP:  return "SIGHUP";
	case SIGPIPE: return "SIGPIPE";
	case SIGALRM: return "SIGALRM";
	case SIGXCPU: return "SIGXCPU";
	case SIGXFSZ: return "SIGXFSZ";
	default:      return "";
	}
}

#endif
