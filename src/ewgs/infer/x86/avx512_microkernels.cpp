// The AVX-512 kernel path (microkernels.h): the generic loops compiled for AVX-512
// F/BW/VL with VPOPCNTDQ (and VNNI for the int8 dot products).
#include <cstring>
#include <vector>

#include "../microkernels.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vpopcntdq,avx2,popcnt")
#include "../generic_microkernels.h"

namespace ewgs::infer::avx512 {

const BinaryMicrokernel kBinary = {binary_dot, binary_row_popcount};
const Int8Microkernel kInt8Vnni = {1, int8_prepare, int8_dot};
const Int8Microkernel kInt8 = {1, int8_prepare, int8_dot};
const DepthwiseMicrokernel kDepthwise = {depthwise_row};
const FloatMicrokernel kFloat = {float_dot};

} // namespace ewgs::infer::avx512
#pragma GCC pop_options
