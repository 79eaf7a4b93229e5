// Precompiled header: the wide LibTorch headers every ewgs translation unit needs.
// Each file still includes what it uses; this only saves re-parsing them.
#pragma once
#include <torch/torch.h>
