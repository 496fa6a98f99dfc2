/* curses on an sd-event loop: stdin and SIGWINCH are event sources; frames are throttled. */
#include "tui/screen.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/time-util.h"
#include "tui/keys.h"

#define FRAME_BUCKETS 1001

struct Screen {
        sd_event *event;
        sd_event_source *input, *winch, *frame;
        ScreenDrawFn draw;
        ScreenKeyFn key;
        void *userdata;
        ScreenOptions opt;
        Glyphs glyphs;
        int attrs[_COL_MAX];
        usec_t last_frame;
        uint64_t frames, frame_total, frame_max;
        /* Frame times in 0.1 ms buckets (the last: 100 ms and more), for percentiles. */
        uint32_t frame_hist[FRAME_BUCKETS];
        int mouse_row, mouse_col, mouse_wheel;
};

static const Glyphs glyphs_utf8 = {
        .tee = "├─",
        .corner = "└─",
        .vbar = "│ ",
        .hbar = "─",
        .fold_open = "▾",
        .fold_closed = "▸",
        .ellipsis = "…",
        .sort_up = "▲",
        .sort_down = "▼",
        .ascii = false,
};
static const Glyphs glyphs_ascii = {
        .tee = "|-",
        .corner = "`-",
        .vbar = "| ",
        .hbar = "-",
        .fold_open = "-",
        .fold_closed = "+",
        .ellipsis = "~",
        .sort_up = "^",
        .sort_down = "v",
        .ascii = true,
};

static void screen_setup_colours(Screen *s) {
        static const struct {
                Colour c;
                short fg, bg;
                int extra;
                int mono; /* attributes without colour */
        } table[] = {
                {COL_HEADER, COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE},
                {COL_TITLE, COLOR_BLACK, COLOR_GREEN, 0, A_REVERSE},
                /* Not the header's colours: the selection must not read as a title bar. */
                {COL_SELECTED, COLOR_BLACK, COLOR_WHITE, 0, A_REVERSE | A_BOLD},
                {COL_VISUAL, COLOR_BLACK, COLOR_YELLOW, 0, A_REVERSE | A_UNDERLINE},
                {COL_RUNNING, COLOR_GREEN, -1, A_BOLD, A_BOLD},
                {COL_QUEUED, COLOR_BLUE, -1, 0, 0},
                {COL_FROZEN, COLOR_WHITE, COLOR_BLUE, A_BOLD, A_BOLD | A_UNDERLINE},
                {COL_FINISHING, COLOR_YELLOW, -1, 0, A_DIM},
                {COL_SUCCEEDED, COLOR_GREEN, -1, 0, 0},
                {COL_FAILED, COLOR_RED, -1, A_BOLD, A_BOLD},
                {COL_DIM, COLOR_WHITE, -1, A_DIM, A_DIM},
                {COL_ERROR, COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD | A_REVERSE},
                {COL_MATCH, COLOR_BLACK, COLOR_YELLOW, 0, A_UNDERLINE},
        };
        bool colour = !s->opt.no_color && has_colors();
        if (colour) {
                start_color();
                use_default_colors();
        }
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (colour) {
                        init_pair((short) (i + 1), table[i].fg, table[i].bg);
                        s->attrs[table[i].c] = COLOR_PAIR(i + 1) | table[i].extra;
                } else
                        s->attrs[table[i].c] = table[i].mono;
        }
        s->attrs[COL_NORMAL] = A_NORMAL;
}

static int screen_map_key(Screen *s, int r, wint_t wc) {
        if (r == KEY_CODE_YES) {
                switch (wc) {
                case KEY_UP:
                        return KC_UP;
                case KEY_DOWN:
                        return KC_DOWN;
                case KEY_LEFT:
                        return KC_LEFT;
                case KEY_RIGHT:
                        return KC_RIGHT;
                case KEY_PPAGE:
                        return KC_PGUP;
                case KEY_NPAGE:
                        return KC_PGDN;
                case KEY_HOME:
                        return KC_HOME;
                case KEY_END:
                        return KC_END;
                case KEY_ENTER:
                        return KC_ENTER;
                case KEY_BACKSPACE:
                        return KC_BACKSPACE;
                case KEY_RESIZE:
                        return KC_RESIZE;
                case KEY_F(1):
                        return KC_F1;
                case KEY_MOUSE: {
                        MEVENT me;
                        if (getmouse(&me) != OK)
                                return -1;
                        s->mouse_row = me.y;
                        s->mouse_col = me.x;
                        s->mouse_wheel = 0;
                        if (me.bstate & BUTTON4_PRESSED)
                                s->mouse_wheel = -1;
                        else if (me.bstate & BUTTON5_PRESSED)
                                s->mouse_wheel = 1;
                        else if (!(me.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)))
                                return -1;
                        return KC_MOUSE;
                }
                }
                return -1;
        }
        switch (wc) {
        case '\n':
        case '\r':
                return KC_ENTER;
        case '\t':
                return KC_TAB;
        case 27:
                return KC_ESC;
        case 127:
        case 8:
                return KC_BACKSPACE;
        }
        return (int) wc;
}

static int screen_on_input(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Screen *s = userdata;
        if (revents & (EPOLLHUP | EPOLLERR)) {
                /* The terminal went away: nothing left to show. */
                sd_event_exit(s->event, 0);
                return 0;
        }
        for (;;) {
                wint_t wc;
                int r = wget_wch(stdscr, &wc);
                if (r == ERR)
                        break;
                int k = screen_map_key(s, r, wc);
                if (k >= 0)
                        s->key(k, s->userdata);
        }
        return 0;
}

static int screen_on_winch(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        Screen *s = userdata;
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
                resizeterm(ws.ws_row, ws.ws_col);
                /* Everything is drawn again on the new size. */
                clearok(curscr, TRUE);
        }
        s->key(KC_RESIZE, s->userdata);
        return 0;
}

static void screen_render(Screen *s) {
        usec_t t0 = now_monotonic();
        erase();
        s->draw(s->userdata);
        wnoutrefresh(stdscr);
        doupdate();
        usec_t t1 = now_monotonic();
        s->last_frame = t1;
        s->frames++;
        s->frame_total += t1 - t0;
        s->frame_max = MAX(s->frame_max, t1 - t0);
        s->frame_hist[MIN((t1 - t0) / 100, (usec_t) FRAME_BUCKETS - 1)]++;
}

static int screen_on_frame(sd_event_source *es, uint64_t usec, void *userdata) {
        Screen *s = userdata;
        s->frame = sd_event_source_disable_unref(s->frame);
        screen_render(s);
        return 0;
}

void screen_invalidate(Screen *s) {
        if (s->frame)
                return;
        usec_t now = now_monotonic();
        usec_t due = s->last_frame + s->opt.min_frame_usec;
        /* Accuracy 1 ms: sd-event's default (0) lets a timer slip by up to 250 ms to coalesce
         * wakeups, which is right for the clock tick but would delay what the user waits for. */
        (void) sd_event_add_time(s->event, &s->frame, CLOCK_MONOTONIC, MAX(due, now), USEC_PER_MSEC,
                                 screen_on_frame, s);
}

void screen_draw_now(Screen *s) {
        s->frame = sd_event_source_disable_unref(s->frame);
        screen_render(s);
}

int screen_new(sd_event *e, const ScreenOptions *o, ScreenDrawFn draw, ScreenKeyFn key, void *userdata,
               Screen **ret) {
        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
                return -ENOTTY;
        Screen *s = calloc(1, sizeof(Screen));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->draw = draw;
        s->key = key;
        s->userdata = userdata;
        s->opt = *o;
        if (getenv("NO_COLOR") && getenv("NO_COLOR")[0])
                s->opt.no_color = true;
        const char *cs = nl_langinfo(CODESET);
        s->glyphs = (!s->opt.ascii && cs && strcmp(cs, "UTF-8") == 0) ? glyphs_utf8 : glyphs_ascii;

        set_escdelay(25);
        if (!initscr()) {
                sd_event_unref(s->event);
                free(s);
                return -EIO;
        }
        cbreak();
        noecho();
        nonl();
        keypad(stdscr, TRUE);
        nodelay(stdscr, TRUE);
        curs_set(0);
        if (s->opt.mouse)
                mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
        screen_setup_colours(s);

        int r = sd_event_add_io(e, &s->input, STDIN_FILENO, EPOLLIN, screen_on_input, s);
        if (r >= 0)
                r = sd_event_add_signal(e, &s->winch, SIGWINCH, screen_on_winch, s);
        if (r < 0) {
                screen_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

Screen *screen_free(Screen *s) {
        if (!s)
                return NULL;
        s->input = sd_event_source_disable_unref(s->input);
        s->winch = sd_event_source_disable_unref(s->winch);
        s->frame = sd_event_source_disable_unref(s->frame);
        endwin();
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

const Glyphs *screen_glyphs(const Screen *s) {
        return &s->glyphs;
}

int screen_attr(const Screen *s, Colour c) {
        return s->attrs[c];
}

void screen_size(const Screen *s, int *ret_rows, int *ret_cols) {
        *ret_rows = LINES;
        *ret_cols = COLS;
}

void screen_mouse(const Screen *s, int *ret_row, int *ret_col, int *ret_wheel) {
        *ret_row = s->mouse_row;
        *ret_col = s->mouse_col;
        *ret_wheel = s->mouse_wheel;
}

void screen_stats(const Screen *s, ScreenStats *ret) {
        *ret = (ScreenStats){.frames = s->frames, .total_usec = s->frame_total, .max_usec = s->frame_max};
        /* The 99th percentile: the upper edge of the bucket holding it. */
        uint64_t seen = 0, want = s->frames - s->frames / 100;
        for (int i = 0; i < FRAME_BUCKETS && s->frames > 0; i++) {
                seen += s->frame_hist[i];
                if (seen >= want) {
                        ret->p99_usec = MIN((uint64_t) (i + 1) * 100, s->frame_max);
                        break;
                }
        }
}
