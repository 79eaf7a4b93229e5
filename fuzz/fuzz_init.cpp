// Linked into every fuzz target: LibTorch's errors skip their stack trace, which
// costs far more than parsing a rejected input and would bound the fuzzing speed.
#include <c10/util/Logging.h>

#include <string>

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  c10::SetStackTraceFetcher([] { return std::string(); });
  return 0;
}
