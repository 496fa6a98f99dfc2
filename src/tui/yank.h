/* Copying to the clipboard: OSC 52 to the terminal (wrapped for tmux passthrough as well when
 * inside tmux), and wl-copy or xclip when a display and the tool are there. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

/* Most bytes copied; more is cut (terminals limit OSC 52 payloads). */
#define YANK_MAX ((size_t) 64 * 1024)

/* The OSC 52 sequence setting the clipboard ("c") to data, terminated by BEL; with tmux, the
 * same wrapped in a DCS passthrough (ESC P tmux; ... ESC \, every ESC inside doubled).
 * Returns 0 and a new NUL-terminated string, or -ENOMEM. */
int yank_osc52(const char *data, size_t len, bool tmux, char **ret);

/* Copies data: writes the OSC 52 sequence(s) to tty_fd, and feeds wl-copy / xclip when
 * present (children reaped by the loop). *ret_how (static) says by what, for the status
 * line. Returns 0 or -errno. */
int yank_copy(sd_event *e, int tty_fd, const char *data, size_t len, const char **ret_how);
