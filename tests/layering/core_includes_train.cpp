// Compiled with core's include roots by tests/layering: core may not see train's headers,
// so this include must fail with "not found".
#include "ewgs/train/trainer.h"
