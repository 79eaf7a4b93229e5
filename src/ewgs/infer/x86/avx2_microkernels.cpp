// The AVX2 kernel path (microkernels.h): the generic loops compiled for AVX2 and
// POPCNT, which the compiler vectorizes.
#include <cstring>
#include <vector>

#include "../microkernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,popcnt")
#include "../generic_microkernels.h"

namespace ewgs::infer::avx2 {

const BinaryMicrokernel kBinary = {binary_dot, binary_row_popcount};
const Int8Microkernel kInt8 = {1, int8_prepare, int8_dot};
const DepthwiseMicrokernel kDepthwise = {depthwise_row};
const FloatMicrokernel kFloat = {float_dot};

} // namespace ewgs::infer::avx2
#pragma GCC pop_options
