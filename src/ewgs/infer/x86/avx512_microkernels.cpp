// The AVX-512 kernel path without VNNI (microkernels.h): AVX-512 F/BW/VL/DQ with
// VPOPCNTDQ; int8 windows use BW multiply-adds.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../microkernels.h"
#include "target_isa.h"

// GCC 12's AVX-512 intrinsic headers pass an undefined vector as the unused merge
// source of masked builtins, which -Wmaybe-uninitialized reports wrongly.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
EWGS_INFER_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx512vpopcntdq,avx2,fma,popcnt,bmi2")
#include "avx512_binary.h"
#include "avx512_elementwise.h"
#include "avx512_float.h"
#include "avx512_int8.h"

namespace ewgs::infer::avx512 {

const PathKernels kKernels = {
    pack_bits,
    {binary_row},
    {int8_layout::prepare, int8_row<false>},
    {generic_depthwise_row},
    {float_row},
    kElementwise,
    "avx512",
};

}  // namespace ewgs::infer::avx512
EWGS_INFER_TARGET_END
