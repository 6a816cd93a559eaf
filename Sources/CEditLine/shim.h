#ifndef SMTP_SCENARIO_CEDITLINE_H
#define SMTP_SCENARIO_CEDITLINE_H

// The readline-compatible interface of libedit (NetBSD's editline), for `smtp-scenario record`: line editing
// and history on a terminal. With Debian's libedit-dev installed its own header is used; without it, the few
// declarations below (the same as <editline/readline.h>).
#if __has_include(<editline/readline.h>)
#include <editline/readline.h>
#else
char *readline(const char *prompt);
int add_history(const char *line);
void using_history(void);
extern int rl_catch_signals;
extern const char *rl_readline_name;
#endif

/// Leaves SIGINT and SIGTERM to the program (libedit installs no handlers for them; it still follows SIGWINCH).
static inline void smtp_editline_leave_signals(void) { rl_catch_signals = 0; }

#endif
