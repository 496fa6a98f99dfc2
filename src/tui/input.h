/* What keys do: modes (help, prompt, pending sequence, visual), the commands of keys.h sent
 * to the focused view or acted on here, and submitted prompts. */
#pragma once

#include "tui/tui.h"

void input_key(Tui *t, int key);
