// The portable kernel path (microkernels.h): the generic loops for the x86-64
// baseline or any other CPU.
#include "generic_microkernels.h"

namespace ewgs::infer::portable {

const PathKernels kKernels = {
    generic_pack_bits,
    {generic_binary_row},
    {generic_int8_prepare, generic_int8_row},
    {generic_depthwise_row},
    {generic_float_row},
    kGenericElementwise,
    "portable",
};

}  // namespace ewgs::infer::portable
