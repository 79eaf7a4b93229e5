// Compiled with core's include roots by tests/layering: core's own headers are found.
#include "ewgs/core/strings.h"
