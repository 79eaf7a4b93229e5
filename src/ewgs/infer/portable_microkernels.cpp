// The portable kernel path (microkernels.h): the generic loops for the x86-64
// baseline or any other CPU.
#include "generic_microkernels.h"

namespace ewgs::infer::portable {

const BinaryMicrokernel kBinary = {binary_dot, binary_row_popcount};
const Int8Microkernel kInt8 = {1, int8_prepare, int8_dot};
const DepthwiseMicrokernel kDepthwise = {depthwise_row};
const FloatMicrokernel kFloat = {float_dot};

} // namespace ewgs::infer::portable
