// Compiles the functions between EWGS_INFER_TARGET_BEGIN(isa) and EWGS_INFER_TARGET_END
// for an instruction set, in GCC (push_options / target pragmas) and clang (attribute
// push), so the fast paths build with either compiler; clang builds the fuzz targets.
#pragma once

#define EWGS_INFER_PRAGMA(text) _Pragma(#text)
#if defined(__clang__)
#define EWGS_INFER_TARGET_BEGIN(isa) \
  EWGS_INFER_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define EWGS_INFER_TARGET_END _Pragma("clang attribute pop")
#else
#define EWGS_INFER_TARGET_BEGIN(isa) _Pragma("GCC push_options") EWGS_INFER_PRAGMA(GCC target(isa))
#define EWGS_INFER_TARGET_END _Pragma("GCC pop_options")
#endif
