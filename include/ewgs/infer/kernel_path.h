// Which kernel implementations the engine runs: the scalar reference (the spec),
// portable C++, or the AVX2 / AVX-512 paths, picked at run time from the CPU.
#pragma once

#include <string>
#include <vector>

namespace ewgs::infer {

enum class KernelPath {
  kReference,  ///< plain loops over every tap: the specification, slow
  kPortable,   ///< the fast algorithms (bit-packed popcount, int8 dot products) in plain C++
  kAvx2,       ///< x86 AVX2 with FMA and POPCNT
  kAvx512,     ///< x86 AVX-512 F/BW/VL with VPOPCNTDQ; VNNI when the CPU has it
};

/// "reference", "portable", "avx2", "avx512".
const char* to_string(KernelPath path);
KernelPath kernel_path_from_string(const std::string& name);

/// Paths this CPU can run, slowest first; reference and portable always.
std::vector<KernelPath> available_kernel_paths();

/// The path engines use unless told otherwise: the environment variable
/// EWGS_INFER_KERNELS when set (an error if this CPU cannot run it), else the
/// best available.
KernelPath default_kernel_path();

/// Whether the AVX-512 path may use VNNI dot products on this CPU.
bool cpu_has_avx512_vnni();

}  // namespace ewgs::infer
