// libFuzzer target: the .pth reader. Odd first byte: the rest is a whole
// torch.save zip archive (zip layer with CRC checks, then the pickle). Even: the
// rest is a data.pkl program run against fixed storage records, so mutations
// reach the unpickler past the checksums.
#include <c10/util/Exception.h>

#include <map>
#include <string>

#include "core/pth_archive.h"
#include "core/zip_records.h"
#include "ewgs/nn/state_dict.h"

namespace {

/// Storage records "archive/data/0" .. "archive/data/3" of 0, 8, 64 and 4096 bytes.
std::map<std::string, std::string> fixed_records(std::string program) {
  std::map<std::string, std::string> records{
      {"archive/data.pkl", std::move(program)}, {"archive/version", "3\n"}};
  const size_t sizes[] = {0, 8, 64, 4096};
  for (size_t i = 0; i < 4; ++i) {
    records["archive/data/" + std::to_string(i)] = std::string(sizes[i], static_cast<char>(0x3f));
  }
  return records;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  try {
    const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
    auto records = (data[0] & 1) != 0 ? ewgs::detail::ZipRecords(rest.data(), rest.size())
                                      : ewgs::detail::ZipRecords(fixed_records(rest));
    const auto root = ewgs::detail::load_pth_archive(records);
    const auto state = ewgs::detail::state_dict_of(root, "input", "");
    ewgs::nn::first_non_finite(state);
  } catch (const c10::Error&) {
  }
  return 0;
}
