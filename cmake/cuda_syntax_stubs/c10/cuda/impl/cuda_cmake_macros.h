// Stand-in for the header a CUDA build of LibTorch generates; lets the CUDA sources
// be compiled for syntax against Debian's CPU-only LibTorch (EWGS_CHECK_CUDA_SYNTAX).
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS
