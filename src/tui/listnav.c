/* Cursor and scrolling arithmetic shared by every list view. */
#include "tui/listnav.h"

#include "basic/macro.h"

void listnav_set_count(ListNav *n, size_t count) {
        n->count = count;
        if (count == 0)
                n->cur = n->top = 0;
        else if (n->cur >= count)
                n->cur = count - 1;
}

void listnav_goto(ListNav *n, size_t i) {
        n->cur = n->count == 0 ? 0 : MIN(i, n->count - 1);
}

bool listnav_move(ListNav *n, Cmd cmd) {
        size_t page = n->height > 1 ? n->height - 1 : 1, half = MAX(n->height / 2, (size_t) 1);
        switch (cmd) {
        case CMD_DOWN:
                listnav_goto(n, n->cur + 1);
                return true;
        case CMD_UP:
                listnav_goto(n, n->cur > 0 ? n->cur - 1 : 0);
                return true;
        case CMD_HALF_DOWN:
                listnav_goto(n, n->cur + half);
                return true;
        case CMD_HALF_UP:
                listnav_goto(n, n->cur > half ? n->cur - half : 0);
                return true;
        case CMD_PAGE_DOWN:
                listnav_goto(n, n->cur + page);
                return true;
        case CMD_PAGE_UP:
                listnav_goto(n, n->cur > page ? n->cur - page : 0);
                return true;
        case CMD_TOP:
                listnav_goto(n, 0);
                return true;
        case CMD_BOTTOM:
                listnav_goto(n, n->count > 0 ? n->count - 1 : 0);
                return true;
        default:
                return false;
        }
}

void listnav_scroll(ListNav *n, size_t height) {
        n->height = height;
        if (height == 0)
                return;
        if (n->cur < n->top)
                n->top = n->cur;
        else if (n->cur >= n->top + height)
                n->top = n->cur - height + 1;
        if (n->count <= height)
                n->top = 0;
        else if (n->top + height > n->count)
                n->top = n->count - height;
}
